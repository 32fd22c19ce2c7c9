// Account deletion at scale (docs/PLATFORM.md "Account deletion"): a
// heavy account's answer does not wait for its files, which go after the
// commit off the request, and a cookie of an account the database lacks
// (deleted, or signed up after a restored dump) is a signed-out session
// wherever the platform reads the account.  The rows and files are made
// here directly, as a long-lived account has them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { Jar, get, jwt, claims, retry, stackctl, keepRunning, SESSION_COOKIE } from './lib.mjs';
import { account, clearsSession } from './accounts.mjs';
import { psql, lit, person, MEDIA_DIR, filesBelow, generation, del, cancel } from './generations.mjs';

// <media>/<folder>/<user>/<generation>/0.png for n generations, as a
// module's runner leaves them.
function heavyFolder(folder, userId, n) {
    const dir = path.join(MEDIA_DIR, folder, userId);
    for (let i = 0; i < n; i++) {
        const g = path.join(dir, crypto.randomUUID());
        fs.mkdirSync(g, { recursive: true });
        fs.writeFileSync(path.join(g, '0.png'), 'x');
    }
    return dir;
}

// Until 2026-12-07 the platform removed a deleted account's files inside
// the request, after the commit: a heavy account (100,000 generations'
// folders took minutes on a busy disk) was answered by nginx's 504 after
// 60 s while its deletion had long committed, and its cookie was never
// cleared (found by the deletion probe).
test('a heavy account\'s deletion answers at its commit; its files go after the answer, all of them', async () => {
    const u = await person('heavydel');
    // a module taken out of the registry: only the platform removes it
    const folder = `retired-${crypto.randomBytes(3).toString('hex')}`;
    const N = 20000;
    const dir = heavyFolder(folder, u.id, N);
    try {
        const t0 = Date.now();
        const res = await account('DELETE', '/api/account', u.jar, { password: u.user.password });
        const took = Date.now() - t0;
        assert.equal(res.status, 200, res.text);
        const left = fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
        console.log(`deletion answered in ${took} ms; ${left} of ${N} folders still there`);
        assert.ok(left > 0, `the answer (after ${took} ms) waited for the removal of ${N} folders`);
        assert.ok(await retry(() => !fs.existsSync(dir), 120000, 500),
            `the deleted account's files go after the answer: ${filesBelow(dir).length} left`);
    } finally {
        fs.rmSync(path.join(MEDIA_DIR, folder), { recursive: true, force: true });
    }
});

// At most 4 removals run at once per platform process; from the fifth
// on, the request removed the folders itself, a 504 with the cookie never
// cleared for a heavy account, as before 2026-12-07 for every one (found
// by the endsserver probe).  Now the fifth waits its turn off the request.
test('a fifth heavy deletion while four removals run still answers at its commit; every one\'s files go', { timeout: 180000 }, async () => {
    const folder = `retired-${crypto.randomBytes(3).toString('hex')}`;
    const N = 20000;
    const people = [];
    for (let i = 0; i < 5; i++) {
        const u = await person(`heavydel${i}`);
        people.push({ u, dir: heavyFolder(folder, u.id, N) });
    }
    try {
        for (const [i, { u, dir }] of people.entries()) {
            const t0 = Date.now();
            const res = await account('DELETE', '/api/account', u.jar, { password: u.user.password });
            const took = Date.now() - t0;
            assert.equal(res.status, 200, `deletion ${i + 1}: ${res.text}`);
            assert.ok(clearsSession(res), `deletion ${i + 1} clears the cookie`);
            const left = fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
            console.log(`deletion ${i + 1} answered in ${took} ms; ${left} of ${N} folders still there`);
            assert.ok(left > 0, `deletion ${i + 1}'s answer (after ${took} ms) waited for the removal of its ${N} folders`);
        }
        for (const { dir } of people) {
            assert.ok(await retry(() => !fs.existsSync(dir), 120000, 500),
                `the deleted accounts' files go after the answers: ${filesBelow(dir).length} left in ${dir}`);
        }
    } finally {
        fs.rmSync(path.join(MEDIA_DIR, folder), { recursive: true, force: true });
    }
});

// The removal runs on a detached thread after the answer: a platform
// stopped meanwhile (a restart, a deploy) ended it half way, and what was
// left of the user's folder under a module taken out of the registry
// stayed for good, as no module's sweep looks there.  The platform's own
// sweep (at its start, then hourly) now removes, under the media root's
// folders no registered module owns, the folders of users the database
// no longer has (found by the stops probe).
keepRunning(['platform']);
test('a deletion whose removal a platform restart cut short: the rest of the files go at its next start', { timeout: 180000 }, async () => {
    const u = await person('stopdel');
    const folder = `retired-${crypto.randomBytes(3).toString('hex')}`;
    const N = 20000;
    const dir = heavyFolder(folder, u.id, N);
    const other = await person('stopdel-other');
    const hers = heavyFolder(folder, other.id, 3);
    try {
        const res = await account('DELETE', '/api/account', u.jar, { password: u.user.password });
        assert.equal(res.status, 200, res.text);
        stackctl('stop-backend', 'platform');
        const left = fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
        console.log(`${left} of ${N} folders left when the platform stopped`);
        assert.ok(left > 0, 'the stop came before the removal ended (the case under test)');
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal(fs.existsSync(dir) ? fs.readdirSync(dir).length : 0, left, 'nothing removes them while it is stopped');
        stackctl('start-backend', 'platform');
        assert.ok(await retry(() => !fs.existsSync(dir), 120000, 500),
            `the deleted account's files go once the platform is back: ${filesBelow(dir).length} left`);
        assert.equal(fs.readdirSync(hers).length, 3, 'a user who is still there keeps her folder');
    } finally {
        fs.rmSync(path.join(MEDIA_DIR, folder), { recursive: true, force: true });
    }
});

// A cookie the gateway takes for an account the database lacks: one
// signed up after a restored dump (docs/OPERATIONS.md, "Backup and
// restore"), or one deleted within the gateway's second.  The platform's
// reads of the account answered 200 as for a new one, balance 0 and an
// empty ledger, beside /api/auth/session's signed-out {} and
// /api/account/*'s 401 (found by the deletion probe).
test('a cookie of an account the database lacks: the platform\'s reads of the account and a module\'s history, generations and files are 401, and open no account', async () => {
    const ghost = new Jar();
    const c = claims();
    ghost.set(SESSION_COOKIE, jwt(c));
    for (const p of ['/api/credits', '/api/credits?limit=5', '/api/credits.csv', '/api/dashboard',
        '/api/account/sessions', '/api/account/connections', '/api/account/export']) {
        const r = await get(p, { headers: ghost.headers() });
        assert.equal(r.status, 401, `${p}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.equal(r.json().error, 'unauthorized', p);
    }
    // a module's history too: it answered 200 (an empty page) until
    // 2026-12-07; /api/me echoes the gateway's identity (docs/MODULES.md)
    for (const p of ['/qwen/api/history', '/nano-banana/api/history?limit=5', '/wan-2.5/api/history']) {
        const r = await get(p, { headers: ghost.headers() });
        assert.equal(r.status, 401, `${p}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.deepEqual(r.json(), { error: 'unauthorized', message: 'this account no longer exists' }, p);
    }
    // and its generations and files: they answered 404 (the rows are
    // gone) until 2026-12-08, so a page polling a job said "no longer
    // exists" instead of asking to sign in again
    const some = crypto.randomUUID();
    const gone = [
        ['GET generation', () => generation(ghost, 'qwen', some)],
        ['DELETE generation', () => del(ghost, 'nano-banana', some)],
        ['cancel', () => cancel(ghost, 'wan-2.5', some)],
        ['media', () => get(`/nano-banana/media/${some}/out.png`, { headers: ghost.headers() })],
    ];
    for (const [what, call] of gone) {
        const r = await call();
        assert.equal(r.status, 401, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.deepEqual(r.json(), { error: 'unauthorized', message: 'this account no longer exists' }, what);
    }
    const s = await get('/api/auth/session', { headers: ghost.headers() });
    assert.deepEqual(s.json(), {}, 'signed out');
    assert.equal(psql(`SELECT count(*) FROM "CreditAccount" WHERE "userId" = ${lit(c.sub)}`), '0', 'no account opened');

    // and a real account, read the same way: as before
    const u = await person('ghostcmp');
    for (const p of ['/api/credits', '/api/credits.csv', '/api/dashboard', '/qwen/api/me', '/qwen/api/history']) {
        const r = await get(p, { headers: u.jar.headers() });
        assert.equal(r.status, 200, `${p}: ${r.text.slice(0, 200)}`);
    }
    // what it does not have is still 404
    for (const [what, call] of [
        ['GET generation', () => generation(u.jar, 'qwen', some)],
        ['DELETE generation', () => del(u.jar, 'nano-banana', some)],
        ['cancel', () => cancel(u.jar, 'wan-2.5', some)],
        ['media', () => get(`/nano-banana/media/${some}/out.png`, { headers: u.jar.headers() })],
    ]) {
        const r = await call();
        assert.equal(r.status, 404, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.equal(r.json().error, 'not_found', what);
    }
    // deleted: its old cookie, were the gateway still to take it, reads
    // nothing either (the cut-off refuses it at the gateway within 2 s)
    const old = u.jar.headers();
    assert.equal((await account('DELETE', '/api/account', u.jar, { password: u.user.password })).status, 200);
    psql(`DELETE FROM "SessionCutoff" WHERE "userId" = ${lit(u.id)}`);
    // the gateway takes the cookie again once the cut-off is gone (as
    // after a restore): the module's own 401, not the gateway's
    const moduleSays = async (p) => {
        const r = await get(p, { headers: old });
        return r.status === 401 && r.json().message === 'this account no longer exists';
    };
    assert.ok(await retry(() => moduleSays('/qwen/api/history'), 5000), 'the module refuses the deleted account');
    for (const p of ['/api/credits', '/api/credits.csv', '/api/dashboard']) {
        const r = await get(p, { headers: old });
        assert.equal(r.status, 401, `${p} of a deleted account: ${r.status} ${r.text.slice(0, 200)}`);
    }
});
