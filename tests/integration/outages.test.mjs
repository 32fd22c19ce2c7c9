// A module whose backend is down or hung, and a database restart: the
// gateway answers 502/504 (JSON under /api/, a small page otherwise), the
// other modules keep working, and everything recovers without restarts.
// These tests stop and start parts of the test stack through stackctl.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
    MODULES, SOCK_DIR, ORIGIN, Jar, get, request, newUser, register, signIn, signedInUser, stackctl,
    stackPid, alive, retry, isJson, isHtml, SESSION_COOKIE, STACKCTL, STATE, sleep, csrf,
} from './lib.mjs';
import { PG_SOCK, psql } from './accounts.mjs';

let jar, me;
before(async () => {
    ({ jar, me } = await signedInUser('outage'));
});

// Whatever happens, leave every backend and the database running.
after(() => {
    for (const app of ['grok', 'openai']) {
        try {
            stackctl('start-backend', app);
        } catch { /* already running */ }
    }
    try {
        stackctl('start-db');
    } catch { /* already running */ }
});

async function othersFine(except) {
    for (const m of MODULES.filter((x) => x !== except)) {
        const res = await get(`/${m}/api/me`, { headers: jar.headers() });
        assert.equal(res.status, 200, `/${m}/api/me while ${except} is out`);
    }
}

async function backUp(app) {
    const res = await retry(async () => {
        const r = await get(`/${app}/api/me`, { headers: jar.headers() });
        return r.status === 200 ? r : null;
    }, 15000);
    assert.ok(res, `/${app}/api/me answers 200 again`);
}

// stackctl.sh said nothing on success (found by a fresh-machine probe):
// each command now says what became of the backend.
test('stackctl.sh says what it did to a backend', async () => {
    const say = (...args) => {
        const r = spawnSync(STACKCTL, args, { encoding: 'utf8', timeout: 60000 });
        assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
        return r.stderr;
    };
    assert.match(say('stop-backend', 'grok'), /^stackctl: grok stopped$/m);
    assert.match(say('stop-backend', 'grok'), /^stackctl: grok was not running$/m);
    assert.match(say('start-backend', 'grok'), /^stackctl: grok started \(pid \d+\)$/m);
    assert.match(say('start-backend', 'grok'), /^stackctl: grok is already running$/m);
    const out = say('restart-backend', 'grok');
    assert.match(out, /^stackctl: grok restarted \(pid (\d+)\)$/m);
    assert.equal(Number(out.match(/pid (\d+)/)[1]), stackPid('grok'), 'the pid said is the running one');
    assert.equal(out.trim().split('\n').length, 1, `one line: ${out}`);
    await backUp('grok');
});

test('a backend that is down: 502, others fine, back after a start', async () => {
    stackctl('stop-backend', 'grok');
    try {
        const api = await get('/grok/api/me', { headers: jar.headers() });
        assert.equal(api.status, 502);
        assert.ok(isJson(api), api.headers['content-type']);
        assert.equal(typeof api.json().error, 'string');
        const page = await get('/grok/', { headers: jar.headers({ Accept: 'text/html' }) });
        assert.equal(page.status, 502);
        assert.ok(isHtml(page), page.headers['content-type']);
        assert.ok(page.text.length < 4096, `a small page (${page.text.length} bytes)`);
        assert.match(page.text, /<html|<!doctype/i);
        // nginx's pages say nosniff as the backends' answers do (found by
        // an earlier probe; fixed by the leftovers probe)
        for (const r of [api, page]) assert.equal(r.headers['x-content-type-options'], 'nosniff', `${r.status}: nosniff`);
        // A body over the server's 1 MiB, which generate's location takes:
        // the same 502, where the error page's own location once checked
        // its length and answered nginx's bare 413.
        const big = await request('POST', '/grok/api/generate', {
            headers: jar.headers({ 'Content-Type': 'application/json', Origin: ORIGIN }),
            body: JSON.stringify({ prompt: 'x'.repeat(2 * 1024 * 1024) }),
        });
        assert.equal(big.status, 502, `a 2 MiB generate: ${big.status} ${big.text.slice(0, 200)}`);
        assert.ok(isJson(big), big.headers['content-type']);
        assert.equal(big.json().error, 'bad_gateway');
        // Without a session the gateway still refuses first.
        const anon = await get('/grok/api/me');
        assert.equal(anon.status, 401);
        await othersFine('grok');
        const home = await get('/api/auth/session', { headers: jar.headers() });
        assert.equal(home.status, 200);
    } finally {
        stackctl('start-backend', 'grok');
    }
    await backUp('grok');
});

test('a hung backend: 504 after the read timeout, others fine meanwhile', async () => {
    const sock = `${SOCK_DIR}/openai.sock`;
    const st = fs.statSync(sock);
    stackctl('stop-backend', 'openai');
    const held = [];
    const server = net.createServer((c) => { held.push(c); c.on('error', () => {}); });
    try {
        await new Promise((resolve, reject) => {
            server.once('error', reject);
            server.listen(sock, resolve);
        });
        fs.chmodSync(sock, st.mode & 0o777);
        fs.chownSync(sock, st.uid, st.gid);

        const t0 = Date.now();
        const [api, page] = await Promise.all([
            get('/openai/api/me', { headers: jar.headers(), timeout: 30000 }),
            get('/openai/', { headers: jar.headers({ Accept: 'text/html' }), timeout: 30000 }),
            othersFine('openai'),
        ]);
        const took = Date.now() - t0;
        assert.ok(held.length >= 1, 'nginx connected to the hung listener');
        assert.equal(api.status, 504, api.text.slice(0, 200));
        assert.ok(isJson(api), api.headers['content-type']);
        assert.equal(typeof api.json().error, 'string');
        assert.equal(page.status, 504);
        assert.ok(isHtml(page), page.headers['content-type']);
        assert.ok(page.text.length < 4096, `a small page (${page.text.length} bytes)`);
        for (const r of [api, page]) assert.equal(r.headers['x-content-type-options'], 'nosniff', `${r.status}: nosniff`);
        assert.ok(took >= 8000 && took < 30000, `answered after ${took} ms (read timeout 10 s)`);
    } finally {
        for (const c of held) c.destroy();
        await new Promise((r) => server.close(r));
        fs.rmSync(sock, { force: true });
        stackctl('start-backend', 'openai');
    }
    await backUp('openai');
});

test('the database down: 503 JSON; back up: sign-up and sign-in work without restarting backends', async () => {
    const pids = Object.fromEntries(['platform', ...MODULES].map((a) => [a, stackPid(a)]));
    stackctl('stop-db');
    try {
        const res = await register(newUser('dbdown'));
        assert.equal(res.status, 503, res.text.slice(0, 200));
        assert.ok(isJson(res), res.headers['content-type']);
        assert.equal(typeof res.json().error, 'string');
        // The gateway needs no database: an existing session still opens modules.
        await othersFine(null);
        // And the session endpoint answers from the token the gateway
        // admitted, as NextAuth's JWT sessions do: a 503 here sent every
        // page using useSession({required: true}) to the sign-in page.
        const s = await get('/api/auth/session', { headers: jar.headers() });
        assert.equal(s.status, 200, s.text.slice(0, 200));
        assert.equal(s.json().user.email, me.email);
        assert.equal(s.json().user.name, me.name);
        assert.ok(Date.parse(s.json().expires) > Date.now(), s.text);
        assert.equal(s.setCookies.length, 0, `nothing re-issued: ${s.setCookies}`);
        // not a token the gateway refuses
        const forged = new Jar();
        forged.set(SESSION_COOKIE, `${jar.get(SESSION_COOKIE)}x`);
        const f = await get('/api/auth/session', { headers: forged.headers() });
        assert.deepEqual([f.status, f.json()], [200, {}]);
        // An update (useSession().update()) answers the same, nothing
        // re-issued: its 503 made update() null where NextAuth's JWT
        // sessions answer the session without a database.
        const csrfToken = await csrf(jar);
        const u = await request('POST', '/api/auth/session', {
            headers: jar.headers({ 'Content-Type': 'application/json', Origin: ORIGIN }),
            body: JSON.stringify({ csrfToken, data: { theme: 'dark' } }),
        });
        assert.equal(u.status, 200, u.text.slice(0, 200));
        assert.equal(u.json().user.email, me.email);
        assert.equal(u.json().expires, s.json().expires, 'the same expiry: not renewed');
        assert.equal(u.setCookies.filter((c) => c.startsWith(SESSION_COOKIE)).length, 0,
            `nothing re-issued: ${u.setCookies}`);
        // still its CSRF check, and a refused token is {} there too
        const nocsrf = await request('POST', '/api/auth/session', {
            headers: jar.headers({ 'Content-Type': 'application/json', Origin: ORIGIN }),
            body: JSON.stringify({ data: {} }),
        });
        assert.deepEqual([nocsrf.status, nocsrf.json()], [400, {}]);
        for (const [k, v] of jar.cookies) if (k !== SESSION_COOKIE) forged.set(k, v);
        const fu = await request('POST', '/api/auth/session', {
            headers: forged.headers({ 'Content-Type': 'application/json', Origin: ORIGIN }),
            body: JSON.stringify({ csrfToken, data: {} }),
        });
        assert.deepEqual([fu.status, fu.json()], [200, {}], fu.text.slice(0, 200));
    } finally {
        stackctl('start-db');
    }
    const user = newUser('dbback');
    const reg = await retry(async () => {
        const r = await register(user);
        return r.status === 201 ? r : null;
    }, 15000);
    assert.ok(reg, 'sign-up works again after the database is back');
    const j = new Jar();
    const login = await signIn(j, user.email, user.password);
    assert.equal(login.status, 302);
    assert.ok(j.get(SESSION_COOKIE), 'sign-in works again');

    // A restart without a pause in between.
    stackctl('restart-db');
    const user2 = newUser('dbrestart');
    const reg2 = await retry(async () => {
        const r = await register(user2);
        return r.status === 201 ? r : null;
    }, 15000);
    assert.ok(reg2, 'sign-up works after a database restart');
    const j2 = new Jar();
    const login2 = await retry(async () => {
        const r = await signIn(j2, user2.email, user2.password);
        return r.status === 302 && j2.get(SESSION_COOKIE) ? r : null;
    }, 15000);
    assert.ok(login2, 'sign-in works after a database restart');
    // restarted as the test stack started it: through stackctl.sh it came
    // back with fsync and synchronous_commit on, which every later test
    // file then ran on (a commit waited for jobs_admit_lost's standby)
    assert.deepEqual(['fsync', 'synchronous_commit', 'full_page_writes'].map((g) => psql(`SHOW ${g}`)),
        ['off', 'off', 'off'], 'the test cluster\'s settings survive start-db and restart-db');

    for (const [app, pid] of Object.entries(pids)) {
        if (pid) assert.ok(alive(pid) && stackPid(app) === pid, `${app} kept running (no restart)`);
    }
});

// stackctl.sh acts from any shell: a backend it starts gets the
// environment the stack started its backends in, not its caller's.  From
// another terminal than make run's, a restarted module lost the provider
// key make run had been given (and went offline) and took that shell's
// NANO_* settings.
test('stackctl.sh restart-backend: the backend gets the stack\'s environment, not the caller\'s', async () => {
    const app = 'openai';
    const environ = (pid) => fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).sort();
    const before = environ(stackPid(app));
    let restarted = null;
    try {
        execFileSync(STACKCTL, ['restart-backend', app], {
            stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 60000,
            env: { PATH: '/usr/bin:/bin', NANO_TEST_STATE: STATE, NANO_SIGNUP_CREDITS: '7' },
        });
        restarted = environ(stackPid(app));
        assert.ok(!restarted.includes('NANO_SIGNUP_CREDITS=7'), 'the caller\'s setting is not taken');
        assert.deepEqual(restarted, before, 'the environment the stack started it in');
    } finally {
        // as it was for the tests after this one, whatever happened
        if (restarted && restarted.join('\n') !== before.join('\n')) stackctl('restart-backend', app);
    }
    await backUp(app);
});

// A postmaster.pid that a postgres killed outright left behind names a
// pid the system may since have given to another process: start-db (and
// make run) stopped it with SIGINT whenever its command line said
// postgres, the system's own PostgreSQL included, though it did not run
// this cluster.
test('start-db: a stale postmaster.pid naming another postgres-named process leaves that process alone', { skip: !PG_SOCK && 'no private cluster' }, async () => {
    const data = path.join(path.dirname(PG_SOCK), 'data');
    const decoy = spawn('bash', ['-c', 'exec -a "postgres: 15/main: checkpointer" sleep 120'],
        { stdio: 'ignore', cwd: '/' });
    try {
        await retry(async () => (fs.readFileSync(`/proc/${decoy.pid}/cmdline`, 'utf8').startsWith('postgres') || null), 5000, 20);
        stackctl('stop-db');
        fs.writeFileSync(path.join(data, 'postmaster.pid'), `${decoy.pid}\n${data}\n1\n5432\n${PG_SOCK}\n`);
        stackctl('start-db');
        await sleep(200);
        assert.ok(alive(decoy.pid), 'the other process was left running');
    } finally {
        decoy.kill('SIGKILL');
        try {
            stackctl('start-db');
        } catch { /* running */ }
    }
    const user = newUser('stalepid');
    const reg = await retry(async () => {
        const r = await register(user);
        return r.status === 201 ? r : null;
    }, 15000);
    assert.ok(reg, 'the cluster serves again');
});
