// Several hosts (issue 8): a second gateway host (scripts/peer.sh: its own
// nginx and backends) shares the test stack's PostgreSQL, key file and
// media folder.  What must hold on both: sessions, revocation within 2 s,
// jobs run once, media from either.  docs/HOSTS.md.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
    BASE, STATE, Jar, SESSION_COOKIE, get, request,
} from './lib.mjs';
import { copyJar, REVOKE_WITHIN, FORM, revokeAcross } from './accounts.mjs';
import {
    ROOT, JSON_H, person, generate, waitFor, fakeStats, fakeCount, ledgerOf,
    tag, row,
} from './generations.mjs';

const PEER_PORT = Number(process.env.NANO_TEST_PEER_PORT || Number(new URL(BASE).port) + 50);
const PEER = path.join(ROOT, 'scripts/peer.sh');
const PEER_STATE = `${STATE}-peer`;
const A = undefined;            // the test stack's nginx (BASE's port)
const B = PEER_PORT;            // the second host's

const at = (port, p, jar, opts = {}) => get(p, { ...opts, port, headers: jar.headers(opts.headers || {}) });

before(() => {
    execFileSync(PEER, ['start', String(PEER_PORT)], { stdio: 'inherit' });
});

after(() => {
    execFileSync(PEER, ['stop'], { stdio: 'inherit' });
});

test('the second host is its own nginx and backends on the same database', async () => {
    const status = execFileSync(PEER, ['status'], { encoding: 'utf8' });
    assert.match(status, /^nginx\s+running/m);
    assert.match(status, /^platform\s+running/m);
    assert.match(status, /^nano-banana\s+running/m);
    const mine = Number(fs.readFileSync(`${STATE}/pids/platform.pid`, 'utf8').split(' ')[0]);
    const theirs = Number(fs.readFileSync(`${PEER_STATE}/pids/platform.pid`, 'utf8').split(' ')[0]);
    assert.notEqual(mine, theirs, 'two platform processes');
    const res = await get('/api/auth/providers', { port: B });
    assert.equal(res.status, 200, res.text);
});

test('a session from one host works on the other, both ways', async () => {
    const u = await person('hosts-session');
    const onB = await at(B, '/qwen/api/me', u.jar);
    assert.equal(onB.status, 200, onB.text);
    assert.equal(onB.json().id, u.id, 'the same user on the second host');

    // signed in on the second host, used on the first
    const jar = new Jar();
    const res = await request('GET', '/api/auth/csrf', { port: B });
    jar.apply(res);
    const body = new URLSearchParams({
        csrfToken: res.json().csrfToken, email: u.user.email, password: u.user.password, callbackUrl: '/',
    }).toString();
    const signed = jar.apply(await request('POST', '/api/auth/callback/credentials', {
        port: B, headers: jar.headers(FORM), body,
    }));
    assert.equal(signed.status, 302, signed.text);
    assert.ok(jar.get(SESSION_COOKIE), 'the second host issued a session');
    const onA = await get('/nano-banana/api/me', { headers: jar.headers() });
    assert.equal(onA.status, 200, onA.text);
    assert.equal(onA.json().id, u.id);

    // and no session is none on either
    assert.equal((await get('/qwen/api/me', { port: B })).status, 401);
});

// Signs a new person out on one host; the delay until the other refuses
// the copied cookie, in ms.
const revokeFromTo = async (from, to) => revokeAcross(assert, await person(`hosts-revoke-${from ? 'b' : 'a'}`), from, to);

test('a sign-out on one host is honoured on the other within 2 s, both ways', async () => {
    const ab = await revokeFromTo(A, B);
    const ba = await revokeFromTo(B, A);
    console.log(`revocation across hosts: first -> second ${ab} ms, second -> first ${ba} ms`);
    assert.ok(ab <= REVOKE_WITHIN, `first -> second took ${ab} ms`);
    assert.ok(ba <= REVOKE_WITHIN, `second -> first took ${ba} ms`);
    // the second host's platform wrote its own revocation file
    assert.ok(fs.existsSync(`${PEER_STATE}/revocations`), 'the second host keeps its own snapshot');
});

test('jobs submitted to both hosts run exactly once, by either host', async () => {
    const m = 'nano-banana';
    const logA = `${STATE}/logs/${m}.log`;
    const logB = `${PEER_STATE}/logs/${m}.log`;
    const fromA = fs.statSync(logA).size;
    const fromB = fs.statSync(logB).size;
    const before = await fakeStats();
    const users = await Promise.all([1, 2].map((i) => person(`hosts-jobs-${i}`)));
    const t = tag();
    const ids = [];
    for (let i = 0; i < 24; i++) {
        const u = users[i % 2];
        const port = i % 3 === 0 ? B : A;
        const r = await request('POST', `/${m}/api/generate`, {
            port, headers: u.jar.headers(JSON_H),
            body: JSON.stringify({ prompt: `two hosts ${t} #${i} [fake:slow=600]` }),
        });
        assert.equal(r.status, 202, `#${i}: ${r.text}`);
        ids.push([u, r.json().id]);
    }
    for (const [u, id] of ids) {
        const g = await waitFor(u.jar, m, id, { ms: 60000 });
        assert.equal(g.status, 'succeeded', `${id}: ${JSON.stringify(g.error)}`);
    }
    const afterStats = await fakeStats();
    assert.equal(fakeCount(afterStats, 'gemini.generateContent') - fakeCount(before, 'gemini.generateContent'), 24,
        'the fake saw exactly 24 generateContent calls');
    const ran = (file, from) => new Set([...fs.readFileSync(file, 'utf8').slice(from)
        .matchAll(/job ([0-9a-f-]{36}) succeeded/g)].map((x) => x[1]));
    const all = new Set(ids.map(([, id]) => id));
    const a = new Set([...ran(logA, fromA)].filter((x) => all.has(x)));
    const b = new Set([...ran(logB, fromB)].filter((x) => all.has(x)));
    console.log(`jobs across hosts: the first host ran ${a.size}, the second ${b.size}`);
    assert.deepEqual([...a].filter((x) => b.has(x)), [], 'no job ran on both');
    assert.equal(a.size + b.size, 24, 'every job ran on one of them');
    for (const [, id] of ids) {
        assert.deepEqual(ledgerOf(id).map((x) => x.reason), ['debit'], `${id}: charged once`);
    }
});

test('media written by one host is served by the other (and ranges work there)', async () => {
    const m = 'nano-banana';
    const u = await person('hosts-media');
    for (const [port, other] of [[A, B], [B, A]]) {
        const r = await request('POST', `/${m}/api/generate`, {
            port, headers: u.jar.headers(JSON_H), body: JSON.stringify({ prompt: `media across hosts ${tag()}` }),
        });
        assert.equal(r.status, 202, r.text);
        const g = await waitFor(u.jar, m, r.json().id);
        assert.equal(g.status, 'succeeded', JSON.stringify(g.error));
        const url = g.outputs[0].url;
        const file = path.join(process.env.NANO_TEST_MEDIA_DIR || `${STATE}/media`, row(g.id).outputs[0].file);
        const size = fs.statSync(file).size;
        const here = await at(port, url, u.jar);
        const there = await at(other, url, u.jar);
        assert.equal(here.status, 200);
        assert.equal(there.status, 200, there.text.slice(0, 200));
        assert.equal(Number(there.headers['content-length']), size, 'the whole file');
        assert.equal(there.text, here.text, 'the same bytes from both hosts');
        const part = await at(other, url, u.jar, { headers: { Range: 'bytes=0-7' } });
        assert.equal(part.status, 206);
        assert.equal(part.headers['content-range'], `bytes 0-7/${size}`);
        // the owner only, on the other host too
        const stranger = await person('hosts-media-x');
        assert.equal((await at(other, url, stranger.jar)).status, 404);
    }
});

test('a cookie copied between hosts is refused alike when forged', async () => {
    const u = await person('hosts-forge');
    const jar = copyJar(u.jar);
    const v = jar.get(SESSION_COOKIE);
    jar.set(SESSION_COOKIE, v.slice(0, -2) + (v.endsWith('A') ? 'BB' : 'AA'));
    assert.equal((await at(B, '/qwen/api/me', jar)).status, 401);
    assert.equal((await at(A, '/qwen/api/me', jar)).status, 401);
});

