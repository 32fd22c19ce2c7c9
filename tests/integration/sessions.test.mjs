// Sessions you can trust and revoke (issue 5, docs/SESSIONS.md), through
// the real stack: sign-out kills a copied cookie at every module within
// 2 s; "sign out everywhere"; a password change keeps this session and
// kills the others; account deletion; the /api/account/* refusals;
// renewal in /api/auth/session refused for a revoked session or a deleted
// user; revocation surviving `nginx -s reload` and a platform restart.
// The delays measured are printed for the closing note.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
    ORIGIN, SECRET, SESSION_COOKIE, Jar, get, request, newUser, register,
    signIn, signedInUser, jwt, claims, now, decodeJwtPayload, isJson, stackctl,
    stackPid, alive, retry, csrf, form, keepRunning, location,
} from './lib.mjs';
import {
    copyJar, signOut, account, sessionSetCookie, clearsSession,
    assertRefusedWithin, psql, lit, childrenOf, REVOKE_WITHIN, PSQL, PG_SOCK, FORM,
    throttleKey,
} from './accounts.mjs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT, withBackendEnv } from './generations.mjs';

// Whatever happens, leave the platform running.
keepRunning(['platform']);

const me = (jar) => get('/qwen/api/me', { headers: jar.headers() });

async function assertWorks(jar, user, what) {
    const res = await me(jar);
    assert.equal(res.status, 200, `${what}: /qwen/api/me ${res.status} ${res.text.slice(0, 200)}`);
    assert.equal(res.json().email, user.email, what);
}

// A second sign-in of the same user: another session, another jar.
async function anotherSession(user) {
    const jar = new Jar();
    const res = await signIn(jar, user.email, user.password);
    assert.equal(res.status, 302, res.text);
    assert.ok(jar.get(SESSION_COOKIE), 'a second session cookie');
    return jar;
}

test('sign-out: the old cookie, copied before, is refused at a module within 2 s', async () => {
    const { user, jar } = await signedInUser('signout');
    const old = copyJar(jar);
    await assertWorks(old, user, 'the copy before sign-out');

    const res = await signOut(jar);
    const t0 = Date.now();
    assert.equal(res.status, 302, res.text);
    assert.equal(jar.get(SESSION_COOKIE), undefined, 'sign-out clears the cookie in this jar');

    const delay = await assertRefusedWithin(assert, [old], 'a copied cookie after sign-out', { t0 });
    console.log(`revocation delay (sign-out -> 401 at /qwen/api/me): ${delay} ms`);
    // Refused on every module, and as a page, within the same 2 s: each
    // nginx worker re-reads the revocation snapshot on its own (at most
    // once a second), so a worker that has not yet may still let it by.
    for (const m of ['nano-banana', 'seedream', 'grok', 'openai', 'wan-2.5']) {
        await assertRefusedWithin(assert, [old], `/${m}/api/me with the signed-out cookie`, { t0, path: `/${m}/api/me` });
    }
    let page;
    await retry(async () => (page = await get('/grok/', { headers: old.headers({ Accept: 'text/html' }) })).status === 302,
        Math.max(0, t0 + REVOKE_WITHIN - Date.now()), 100);
    assert.equal(page.status, 302, `a module page with the signed-out cookie redirects to sign in (${Date.now() - t0} ms after sign-out)`);
});

test('sign-out from another site is refused (403 cross_site) even with the token pair, and signs nobody out', async () => {
    const { user, jar } = await signedInUser('signout-cross');
    for (const h of [{ Origin: 'https://evil.example' }, { 'Sec-Fetch-Site': 'cross-site' }]) {
        const csrfToken = await csrf(jar);
        const res = await request('POST', '/api/auth/signout', {
            headers: jar.headers({ ...FORM, ...h }),
            body: form({ csrfToken, callbackUrl: '/' }),
        });
        const what = `sign-out with ${JSON.stringify(h)}`;
        assert.equal(res.status, 403, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.json().error, 'cross_site', what);
        assert.ok(!res.setCookies.some((l) => l.startsWith(`${SESSION_COOKIE}=`)), `${what}: the cookie is left alone`);
    }
    await assertWorks(jar, user, 'after the refused sign-outs');
    const res = await signOut(jar);
    assert.equal(res.status, 302, `from this site it signs out: ${res.status} ${res.text.slice(0, 200)}`);
});

test('a cross-site sign-out form post from a browser lands on the sign-out form at the site\'s address (error=CrossSite), still signed in', async () => {
    const { user, jar } = await signedInUser('signout-cross-nav');
    const csrfToken = await csrf(jar);
    const res = await request('POST', '/api/auth/signout', {
        headers: jar.headers({ ...FORM, Origin: 'http://other-name.example', 'Sec-Fetch-Mode': 'navigate', Accept: 'text/html' }),
        body: form({ csrfToken, callbackUrl: '/' }),
    });
    assert.equal(res.status, 302, `${res.status} ${res.text.slice(0, 200)}`);
    const { url } = location(res);
    assert.equal(url.origin, ORIGIN);
    assert.equal(url.pathname, '/api/auth/signout');
    assert.equal(url.searchParams.get('error'), 'CrossSite');
    assert.ok(!res.setCookies.some((l) => l.startsWith(`${SESSION_COOKIE}=`)), 'the cookie is left alone');
    await assertWorks(jar, user, 'after the refused sign-out');
    const page = await get('/api/auth/signout?error=CrossSite', { headers: jar.headers({ Accept: 'text/html' }) });
    assert.equal(page.status, 200);
    assert.match(page.text, /refused, and you are still signed in\. Sign\s+out here\./);
});

test('sign-out of one session leaves the user\'s other sessions working', async () => {
    const { user, jar } = await signedInUser('signout-one');
    const other = await anotherSession(user);
    const old = copyJar(jar);
    const res = await signOut(jar);
    const t0 = Date.now();
    assert.equal(res.status, 302, res.text);
    await assertRefusedWithin(assert, [old], 'the signed-out session', { t0 });
    await assertWorks(other, user, 'the other session of the same user');
});

test('POST /api/account/signout-all: 200 {"ok":true}, clears the cookie, every session refused within 2 s', async () => {
    const { user, jar: a } = await signedInUser('signout-all');
    const b = await anotherSession(user);
    const aCopy = copyJar(a);

    const res = await account('POST', '/api/account/signout-all', a, {});
    const t0 = Date.now();
    assert.equal(res.status, 200, res.text.slice(0, 200));
    assert.ok(isJson(res), res.headers['content-type']);
    assert.deepEqual(res.json(), { ok: true });
    assert.ok(clearsSession(res), `the answer clears ${SESSION_COOKIE}: ${res.setCookies.join(' | ')}`);

    const delay = await assertRefusedWithin(assert, [aCopy, b], 'sign out everywhere', { t0 });
    console.log(`revocation delay (signout-all -> 401 for both sessions): ${delay} ms`);
    // And the platform agrees: no session for either.
    for (const j of [aCopy, b]) {
        const s = await get('/api/auth/session', { headers: j.headers() });
        assert.deepEqual(s.json(), {}, '/api/auth/session after sign out everywhere');
    }
    // Signing in again afterwards works (a new session is not caught by the old cut-off).
    const fresh = await anotherSession(user);
    await assertWorks(fresh, user, 'a sign-in after sign out everywhere');
});

// Several hosts (docs/HOSTS.md): a sign-out everywhere on a host whose
// clock runs 40 s behind the others (within the tokens' 60 s leeway, so
// their cookies work there) cuts the sessions the others issued in those
// 40 s too: the cut-off is the later of its clock and the database's.
test('sign out everywhere on a platform whose clock runs 40 s behind ends the sessions just signed in on the others', async () => {
    const { user, jar: a } = await signedInUser('signout-slow');
    const b = await anotherSession(user);
    await assertWorks(b, user, 'the other session before');
    const skewed = [`LD_PRELOAD=${path.join(ROOT, 'build/lib/nano-clockskew.so')}`, 'NANO_CLOCK_SKEW=-40',
        `ASAN_OPTIONS=${[process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':')}`];
    await withBackendEnv('platform', skewed, async () => {
        const res = await account('POST', '/api/account/signout-all', a, {});
        const t0 = Date.now();
        assert.equal(res.status, 200, res.text.slice(0, 200));
        assert.deepEqual(res.json(), { ok: true });
        await assertRefusedWithin(assert, [b], 'the session signed in on a host with the right clock', { t0 });
        const nb = Number(psql(`SELECT "notBefore" - extract(epoch FROM now())::bigint FROM "SessionCutoff"
            WHERE "userId" = (SELECT "id" FROM "User" WHERE "email" = ${lit(user.email)})`));
        assert.ok(nb >= -5 && nb <= 1, `the cut-off is the database's now + 1, not 40 s before: ${nb}`);
    });
    // a sign-in after it is not caught by it
    const fresh = await anotherSession(user);
    await assertWorks(fresh, user, 'a sign-in after sign out everywhere');
});

// ...and a platform whose clock runs 120 s behind the database's (past
// the tokens' 60 s leeway) does not cut at the database's clock: a session
// it issues after its own sign-out everywhere would carry an iat too far
// in its future for its own check.
test('sign out everywhere on a platform 120 s behind the database: its next sign-in works there', async () => {
    const skewed = [`LD_PRELOAD=${path.join(ROOT, 'build/lib/nano-clockskew.so')}`, 'NANO_CLOCK_SKEW=-120',
        `ASAN_OPTIONS=${[process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':')}`];
    const user = newUser('signout-slower');
    assert.equal((await register(user)).status, 201);
    await withBackendEnv('platform', skewed, async () => {
        const a = new Jar();
        assert.equal((await signIn(a, user.email, user.password)).status, 302);
        const res = await account('POST', '/api/account/signout-all', a, {});
        assert.equal(res.status, 200, res.text.slice(0, 200));
        const nb = Number(psql(`SELECT "notBefore" - extract(epoch FROM now())::bigint FROM "SessionCutoff"
            WHERE "userId" = (SELECT "id" FROM "User" WHERE "email" = ${lit(user.email)})`));
        assert.ok(nb >= -65 && nb <= -55, `the cut-off is this host's now + 59 s, not the database's: ${nb}`);
        const fresh = await anotherSession(user);
        const s = await get('/api/auth/session', { headers: fresh.headers() });
        assert.equal(s.json()?.user?.email, user.email, `the new session on that host: ${s.text.slice(0, 200)}`);
        await assertWorks(fresh, user, 'the new session at a module');
    });
});

// A change that re-issues the cookie checks the session again right
// before: one checked when its request began, and ended while it ran (an
// avatar's decoding, a password's hashing), got a new cookie that outlived
// the cut-off, for 30 days.
test('two password changes at once from two sessions: one wins, the other session is ended, not re-issued', async () => {
    const { user, jar: a } = await signedInUser('pw-race');
    const b = await anotherSession(user);
    const [ra, rb] = await Promise.all([
        account('POST', '/api/account/password', a, { currentPassword: user.password, newPassword: `${user.password}-from-a` }),
        account('POST', '/api/account/password', b, { currentPassword: user.password, newPassword: `${user.password}-from-b` }),
    ]);
    const codes = [ra.status, rb.status].sort();
    assert.deepEqual(codes, [200, 401], `answers ${ra.status} ${ra.text.slice(0, 120)} / ${rb.status} ${rb.text.slice(0, 120)}`);
    const [won, lost, wonJar, lostJar] = ra.status === 200 ? [ra, rb, a, b] : [rb, ra, b, a];
    assert.match(lost.json().message, /session has ended/);
    assert.ok(clearsSession(lost), 'the ended session\'s cookie is cleared');
    assert.ok(sessionSetCookie(won), 'the winner\'s session is re-issued');
    wonJar.apply(won);
    await assertWorks(wonJar, user, 'the session whose change won');
    await assertRefusedWithin(assert, [lostJar], 'the session ended by the other change');
    // the winner's password is the one in force
    const newPassword = `${user.password}-from-${won === ra ? 'a' : 'b'}`;
    const other = `${user.password}-from-${won === ra ? 'b' : 'a'}`;
    assert.equal((await signIn(new Jar(), user.email, newPassword)).status, 302);
    const refused = await signIn(new Jar(), user.email, other);
    assert.notEqual(refused.headers.location || '', `${ORIGIN}/`, 'the losing password does not sign in');
});

test('a password change racing the account\'s deletion never leaves a session of the deleted user alive', async () => {
    for (let round = 0; round < 3; round++) {
        const { user, jar: a } = await signedInUser(`del-pw-race-${round}`);
        const b = copyJar(a);
        const [del, pw] = await Promise.all([
            account('DELETE', '/api/account', a, { password: user.password }),
            account('POST', '/api/account/password', b, { currentPassword: user.password, newPassword: `${user.password}-new` }),
        ]);
        assert.equal(del.status, 200, del.text.slice(0, 200));
        assert.ok([200, 401, 403, 404].includes(pw.status), `the password change: ${pw.status} ${pw.text.slice(0, 200)}`);
        // whatever the change answered, a cookie it re-issued is dead too
        b.apply(pw);
        await assertRefusedWithin(assert, [a, b], `round ${round}: the deleted user's sessions`);
    }
    // the deletion's cut-off lies a token lifetime ahead: a cookie
    // re-issued for the id by a request in flight, seconds after it (an
    // avatar still decoding), is dead at the gateway too; with a cut-off
    // of now + 1 it lived for 30 days
    const { user, jar, me: who } = await signedInUser('del-later-token');
    const del = await account('DELETE', '/api/account', jar, { password: user.password });
    assert.equal(del.status, 200, del.text.slice(0, 200));
    const nb = Number(psql(`SELECT "notBefore" FROM "SessionCutoff" WHERE "userId" = ${lit(who.id)}`));
    assert.ok(nb > now() + 29 * 86400, `the deleted id's cut-off ${nb}`);
    await new Promise((r) => setTimeout(r, 2100));
    const later = new Jar();
    later.cookies.set(SESSION_COOKIE, jwt(claims({ sub: who.id, email: user.email, name: user.name, iat: now() })));
    await assertRefusedWithin(assert, [later], 'a token of the deleted id issued after the deletion');
});

test('a profile change whose session was signed out everywhere while it ran is 401, and its cookie is not re-issued', async () => {
    const { user, jar: a, me: who } = await signedInUser('profile-race');
    const b = await anotherSession(user);
    const aCopy = copyJar(a);
    // hold the user's row, so that the change waits after its session
    // check, as a slow avatar's decoding does
    const holder = spawn(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', PG_SOCK, '-U', 'nano', '-d', 'nano', '-c',
        `BEGIN; SELECT 1 FROM "User" WHERE "id" = ${lit(who.id)} FOR UPDATE; SELECT pg_sleep(1.5); COMMIT;`]);
    let holderErr = '';
    holder.stderr.on('data', (d) => { holderErr += d; });
    const held = new Promise((r) => holder.on('close', r));
    const holding = await retry(() => psql(`SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE a.query LIKE '%pg_sleep(1.5)%' AND l.mode = 'RowShareLock' AND a.pid <> pg_backend_pid()`) !== '0', 5000, 20);
    assert.ok(holding, `the user's row is held: ${holderErr}`);
    // "sign out everywhere" locks the user's row too (so that a sign-in
    // under way ends first): it waits first in line, and the change,
    // its session checked as live meanwhile, waits behind it
    const signout = account('POST', '/api/account/signout-all', b, {});
    const waiting = await retry(() => psql(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
        AND query LIKE 'SELECT 1 FROM "User" WHERE "id" = $1 FOR NO KEY UPDATE%'`) !== '0', 5000, 20);
    assert.ok(waiting, 'sign out everywhere waits for the row');
    const change = account('POST', '/api/account/profile', a, { name: 'renamed while signed out' });
    await new Promise((r) => setTimeout(r, 300));
    await held;
    const out = await signout;
    assert.equal(out.status, 200, out.text);
    const res = await change;
    assert.equal(res.status, 401, res.text.slice(0, 200));
    assert.equal(res.json().error, 'unauthorized');
    assert.ok(clearsSession(res), 'the cookie is cleared, not re-issued');
    await assertRefusedWithin(assert, [aCopy, a], 'a session ended while its change ran');
});

test('a sign-in whose password was changed while its bcrypt ran is refused, not given a session that outlives the change', async () => {
    // The attacker knows the old password and signs in; the owner changes
    // it (on another platform host) while the sign-in's bcrypt runs.  The
    // sign-in read the old hash and checked the old password against it;
    // its session, made a second or more after the change's cut-off, had
    // iat >= notBefore and lived 30 days past the change.
    const user = newUser('signin-race');
    const reg = await register(user);
    assert.equal(reg.status, 201, reg.text);
    const id = reg.json().id;
    const fresh = newUser('signin-race-new');          // its hash is the new one
    assert.equal((await register(fresh)).status, 201);
    const key = throttleKey(user.email);
    // hold the sign-in after its bcrypt (at its throttle clear): the
    // attempt's row, locked as soon as the attempt made it
    const holder = spawn(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', PG_SOCK, '-U', 'nano', '-d', 'nano', '-c',
        `BEGIN;
         DO $$ BEGIN
             WHILE NOT EXISTS (SELECT 1 FROM "SignInThrottle" WHERE "key" = ${lit(key)}) LOOP
                 PERFORM pg_sleep(0.002);
             END LOOP;
         END $$;
         SELECT 1 FROM "SignInThrottle" WHERE "key" = ${lit(key)} FOR UPDATE;
         SELECT pg_sleep(2.2); COMMIT;`]);
    let holderErr = '';
    holder.stderr.on('data', (d) => { holderErr += d; });
    const held = new Promise((r) => holder.on('close', r));
    const jar = new Jar();
    const signingIn = signIn(jar, user.email, user.password);
    const holding = await retry(() => psql(`SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE a.query LIKE '%pg_sleep(2.2)%' AND l.mode = 'RowShareLock' AND a.pid <> pg_backend_pid()`) !== '0', 5000, 10);
    assert.ok(holding, `the sign-in's throttle row is held: ${holderErr}`);
    // what a password change commits: the new hash and the cut-off
    psql([`UPDATE "User" SET "password" = (SELECT "password" FROM "User" WHERE "email" = ${lit(fresh.email)})
           WHERE "id" = ${lit(id)}`,
          `INSERT INTO "SessionCutoff" ("userId", "notBefore")
           VALUES (${lit(id)}, floor(extract(epoch FROM clock_timestamp()))::bigint + 1)
           ON CONFLICT ("userId") DO UPDATE SET "notBefore" = EXCLUDED."notBefore"`]);
    await held;
    assert.equal(holderErr, '', 'the holder ran');
    const res = await signingIn;
    const at = jar.get(SESSION_COOKIE) ? (await me(jar)).status : 'no cookie';
    assert.equal(jar.get(SESSION_COOKIE), undefined,
        `no session for a password that was no longer the account's (${res.status} ${res.headers.location}; `
        + `its cookie at a module after the change: ${at})`);
    assert.equal(res.status, 302, res.text);
    assert.match(res.headers.location, /error=CredentialsSignin/);
    // the new password signs in
    const later = new Jar();
    const ok = await signIn(later, user.email, fresh.password);
    assert.equal(ok.status, 302, ok.text);
    assert.ok(later.get(SESSION_COOKIE), 'the new password signs in');
});

test('POST /api/account/password: wrong current 403, bad new 400, success keeps this session and kills the others', async () => {
    const { user, jar: a, me: who } = await signedInUser('password');
    const b = await anotherSession(user);
    const newPassword = `${user.password}-new`;

    let res = await account('POST', '/api/account/password', a,
        { currentPassword: `${user.password}-wrong`, newPassword });
    assert.equal(res.status, 403, `wrong current password: ${res.text.slice(0, 200)}`);
    assert.equal(res.json().error, 'wrong_password');

    res = await account('POST', '/api/account/password', a,
        { currentPassword: user.password, newPassword: '1234567' });
    assert.equal(res.status, 400, `a 7-character new password: ${res.text.slice(0, 200)}`);
    assert.equal(res.json().error, 'invalid_password');

    res = await account('POST', '/api/account/password', a,
        { currentPassword: user.password, newPassword: 'p'.repeat(73) });
    assert.equal(res.status, 400, `a 73-byte new password: ${res.text.slice(0, 200)}`);
    assert.equal(res.json().error, 'invalid_password');
    assert.match(res.json().message, /72/, 'the message names the 72-byte limit');

    // Nothing changed so far: both sessions work, the old password signs in.
    await assertWorks(b, user, 'the other session after refused changes');

    const before = decodeJwtPayload(a.get(SESSION_COOKIE));
    res = await account('POST', '/api/account/password', a, { currentPassword: user.password, newPassword });
    const t0 = Date.now();
    assert.equal(res.status, 200, `password change: ${res.text.slice(0, 200)}`);
    assert.deepEqual(res.json(), { ok: true });
    const c = sessionSetCookie(res);
    assert.ok(c && c.value, `the answer re-issues ${SESSION_COOKIE}: ${res.setCookies.join(' | ')}`);
    const after = decodeJwtPayload(c.value);
    assert.equal(after.sub, who.id, 'the same user');
    assert.equal(after.jti, before.jti, 'the same session id (jti)');
    assert.ok(after.iat >= before.iat, `iat ${after.iat} not before the old ${before.iat}`);
    a.apply(res);

    // The other session dies...
    const delay = await assertRefusedWithin(assert, [b], 'the other session after a password change', { t0 });
    console.log(`revocation delay (password change -> 401 for the other session): ${delay} ms`);
    // ...while this one, with its re-issued cookie, keeps working after the cut-off.
    await assertWorks(a, user, 'this session after the password change');
    const s = await get('/api/auth/session', { headers: a.headers() });
    assert.equal(s.status, 200);
    assert.equal(s.json().user?.email, user.email, `/api/auth/session keeps this session: ${s.text}`);

    // The stored hash: bcrypt $2b$, cost 12.
    const hash = psql(`SELECT "password" FROM "User" WHERE "id" = ${lit(who.id)}`);
    assert.match(hash, /^\$2b\$12\$/, 'a new $2b$ cost-12 hash');

    // The new password signs in, the old one no longer does.
    const jNew = new Jar();
    res = await signIn(jNew, user.email, newPassword);
    assert.equal(res.status, 302, res.text);
    assert.ok(jNew.get(SESSION_COOKIE), 'the new password signs in');
    const jOld = new Jar();
    res = await signIn(jOld, user.email, user.password);
    assert.equal(res.status, 302);
    assert.equal(new URL(res.headers.location, ORIGIN).searchParams.get('error'), 'CredentialsSignin',
        `the old password is refused: ${res.headers.location}`);
    assert.equal(jOld.get(SESSION_COOKIE), undefined, 'no session with the old password');
});

test('DELETE /api/account: wrong password 403; success deletes the user, kills every session, frees the email', async () => {
    const { user, jar: a, me: who } = await signedInUser('delete');
    const b = await anotherSession(user);
    const aCopy = copyJar(a);

    let res = await account('DELETE', '/api/account', a, { password: `${user.password}-wrong` });
    assert.equal(res.status, 403, `wrong password: ${res.text.slice(0, 200)}`);
    assert.equal(res.json().error, 'wrong_password');
    await assertWorks(a, user, 'after a refused deletion');

    res = await account('DELETE', '/api/account', a, { password: user.password });
    const t0 = Date.now();
    assert.equal(res.status, 200, `deletion: ${res.text.slice(0, 200)}`);
    assert.deepEqual(res.json(), { ok: true });
    assert.ok(clearsSession(res), `the answer clears ${SESSION_COOKIE}: ${res.setCookies.join(' | ')}`);

    const delay = await assertRefusedWithin(assert, [aCopy, b], 'every session of a deleted user', { t0 });
    console.log(`revocation delay (account deletion -> 401 for both sessions): ${delay} ms`);

    assert.equal(psql(`SELECT count(*) FROM "User" WHERE "id" = ${lit(who.id)}`), '0', 'the "User" row is gone');

    // The platform: no session, and the cookie is cleared.
    const s = await get('/api/auth/session', { headers: aCopy.headers() });
    assert.equal(s.status, 200);
    assert.deepEqual(s.json(), {}, '/api/auth/session with a deleted user\'s cookie');
    assert.ok(clearsSession(s), `/api/auth/session clears the cookie: ${s.setCookies.join(' | ')}`);

    // The email is free again, and the new account is a new user.
    res = await register(user);
    assert.equal(res.status, 201, `register the same email again: ${res.text.slice(0, 200)}`);
    const j = new Jar();
    res = await signIn(j, user.email, user.password);
    assert.equal(res.status, 302);
    const again = await me(j);
    assert.equal(again.status, 200, 'the new account signs in');
    assert.notEqual(again.json().id, who.id, 'a new user id');
});

test('/api/account/*: 401 without a session, 415 without JSON, 403 cross-site', async () => {
    const { user, jar } = await signedInUser('account-refusals');
    const calls = [
        ['POST', '/api/account/signout-all', {}],
        ['POST', '/api/account/password', { currentPassword: user.password, newPassword: `${user.password}-x` }],
        ['DELETE', '/api/account', { password: user.password }],
    ];
    for (const [method, p, body] of calls) {
        const what = `${method} ${p}`;
        let res = await account(method, p, null, body);
        assert.equal(res.status, 401, `${what} without a session: ${res.status} ${res.text.slice(0, 200)}`);
        assert.ok(isJson(res), `${what} 401 as JSON: ${res.headers['content-type']}`);
        assert.equal(res.json().error, 'unauthorized', what);

        res = await request(method, p, {
            headers: jar.headers({ 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN }),
            body: new URLSearchParams(body).toString(),
        });
        assert.equal(res.status, 415, `${what} with a form body: ${res.status} ${res.text.slice(0, 200)}`);

        res = await account(method, p, jar, body, { Origin: 'https://evil.example' });
        assert.equal(res.status, 403, `${what} with a foreign Origin: ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.json().error, 'cross_site', what);

        res = await account(method, p, jar, body, { 'Sec-Fetch-Site': 'cross-site' });
        assert.equal(res.status, 403, `${what} with Sec-Fetch-Site: cross-site: ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.json().error, 'cross_site', what);
    }
    // None of them did anything: the session and the password still work.
    await assertWorks(jar, user, 'after the refused calls');
    const j = new Jar();
    const res = await signIn(j, user.email, user.password);
    assert.ok(j.get(SESSION_COOKIE), `the password is unchanged: ${res.status}`);
});

// The pages name the account they were made for (the header's
// data-nb-user), and their scripts send it as X-Nano-User: a call made
// after another account signed in in another tab carries that account's
// cookie, and was answered for it (docs/SESSIONS.md, "A page's account").
test('X-Nano-User: a call naming another account than the session\'s is refused at a module and at the platform', async () => {
    const one = await signedInUser('page-user-one');
    const two = await signedInUser('page-user-two');
    const as = (who, extra = {}) => one.jar.headers({ 'X-Nano-User': who, ...extra });

    for (const p of ['/qwen/', '/', '/billing', '/settings']) {
        const page = await get(p, { headers: one.jar.headers({ Accept: 'text/html' }) });
        assert.equal(page.status, 200, p);
        assert.match(page.text, new RegExp(`<header class="nb-header" data-nb-user="${one.me.id}">`), `${p} names its account`);
    }
    const signedOut = await get('/', { headers: { Accept: 'text/html' } });
    assert.doesNotMatch(signedOut.text, /data-nb-user/, 'a signed-out page names no account');

    const calls = [
        ['GET', '/qwen/api/history', undefined],
        ['POST', '/qwen/api/generate', JSON.stringify({ prompt: 'as the other account' })],
        ['GET', '/api/credits', undefined],
        ['POST', '/api/account/profile', JSON.stringify({ name: 'Renamed by another page' })],
        ['POST', '/api/billing/checkout', JSON.stringify({ pack: 'p' })],
    ];
    for (const [method, p, body] of calls) {
        const res = await request(method, p, { headers: as(two.me.id, body ? { 'Content-Type': 'application/json', Origin: ORIGIN } : {}), body });
        assert.equal(res.status, 401, `${method} ${p} for another account: ${res.status} ${res.text.slice(0, 200)}`);
        assert.ok(isJson(res), `${method} ${p}: JSON`);
        assert.equal(res.json().error, 'session_changed', `${method} ${p}`);
    }
    assert.equal(psql(`SELECT "balance" FROM "CreditAccount" WHERE "userId" = ${lit(one.me.id)}`), '100', 'nothing charged');
    assert.equal(psql(`SELECT "name" FROM "User" WHERE "id" = ${lit(one.me.id)}`), one.user.name, 'not renamed');
    assert.equal(psql(`SELECT count(*) FROM "Purchase" WHERE "userId" = ${lit(one.me.id)}`), '0', 'no checkout');

    // the page's own account, or no header at all (curl, an API client): as before
    for (const headers of [as(one.me.id), one.jar.headers()]) {
        assert.equal((await get('/qwen/api/history', { headers })).status, 200);
        assert.equal((await get('/api/credits', { headers })).status, 200);
    }
    // a page whose session ended: 401 unauthorized even where no session is needed
    const packs = await get('/api/billing/packs', { headers: { 'X-Nano-User': one.me.id } });
    assert.equal(packs.status, 401, `packs for a page signed out: ${packs.status}`);
    assert.equal(packs.json().error, 'unauthorized');
    assert.equal((await get('/api/billing/packs')).status, 200, 'packs without the header');
});

// /api/auth/session with a token made here for a real user.
async function sessionWith(token) {
    return get('/api/auth/session', { headers: { Cookie: `${SESSION_COOKIE}=${token}` } });
}

function assertRenewalRefused(res, what) {
    assert.equal(res.status, 200, what);
    assert.deepEqual(res.json(), {}, `${what}: /api/auth/session must answer {}: ${res.text.slice(0, 200)}`);
    assert.ok(clearsSession(res), `${what}: the cookie is cleared: ${res.setCookies.join(' | ')}`);
}

// useSession().update(data) posts {csrfToken, data}; the platform reads
// only the token, and NextAuth's route (a Next.js API route) takes a
// body of up to 1 MiB.  Over 64 KiB was 413 here, so update() was null.
test('POST /api/auth/session (update) takes a body of up to 1 MiB, as NextAuth\'s route; more is 413', async () => {
    const { user, jar } = await signedInUser('update-size');
    const csrfToken = await csrf(jar);
    const post = (data) => request('POST', '/api/auth/session', {
        headers: jar.headers({ 'Content-Type': 'application/json', Origin: ORIGIN }),
        body: JSON.stringify({ csrfToken, data }),
    });
    // a picture as a data: URL, the kind of thing a V1 page handed update()
    const big = await post({ image: `data:image/png;base64,${'A'.repeat(700 * 1024)}` });
    assert.equal(big.status, 200, `a 700 KiB update: ${big.text.slice(0, 200)}`);
    assert.equal(big.json().user?.email, user.email);
    assert.ok(sessionSetCookie(big), `re-issued: ${big.setCookies.join(' | ')}`);
    jar.apply(big);
    const over = await post({ image: 'A'.repeat(1024 * 1024) });
    assert.equal(over.status, 413, over.text.slice(0, 200));
    assert.ok(isJson(over), `a 413 the client can parse: ${over.headers['content-type']}`);
});

test('renewal refused: a token whose jti was revoked by sign-out', async () => {
    const { user, jar, me: who } = await signedInUser('renew-revoked');
    const { jti } = decodeJwtPayload(jar.get(SESSION_COOKIE));
    assert.ok(jti, 'the platform\'s token carries a jti');
    const res = await signOut(jar);
    assert.equal(res.status, 302, res.text);

    const t = now();
    const base = { sub: who.id, email: user.email, name: user.name, jti };
    // Control: the same claims with another jti are a live session.
    const live = await sessionWith(jwt(claims({ ...base, jti: `${jti}-other` })));
    assert.equal(live.json().user?.email, user.email, `a token of the same user with another jti works: ${live.text}`);

    assertRenewalRefused(await sessionWith(jwt(claims(base))), 'revoked jti, fresh iat');
    assertRenewalRefused(await sessionWith(jwt(claims({ ...base, iat: t - 2 * 86400, exp: t + 28 * 86400 }))),
        'revoked jti, iat older than 24 h (the renewal case)');
});

test('a revocation lasts as long as any copy can: a copy renewed before sign-out stays refused after the signed-out cookie expires', async () => {
    const { user, jar, me: who } = await signedInUser('revoke-copies');
    const { jti } = decodeJwtPayload(jar.get(SESSION_COOKIE));
    const t = now();
    // the cookie signed out with is an old one, 30 s from its exp; a copy
    // renewed earlier carries the full 30 days
    const base = { sub: who.id, email: user.email, name: user.name, jti };
    const old = new Jar();
    old.set(SESSION_COOKIE, jwt(claims({ ...base, iat: t - 30 * 86400 + 30, exp: t + 30 })));
    const renewed = new Jar();
    renewed.set(SESSION_COOKIE, jwt(claims({ ...base, iat: t, exp: t + 30 * 86400 })));
    await assertWorks(renewed, user, 'the renewed copy before sign-out');

    const res = await signOut(old);
    assert.equal(res.status, 302, res.text);
    const expires = Number(psql(`SELECT "expires" FROM "RevokedSession" WHERE "id" = ${lit(jti)}`));
    assert.ok(expires >= t + 30 * 86400, `revoked until ${expires - t} s from now, not the old cookie's 30 s`);
    await assertRefusedWithin(assert, [renewed], 'the renewed copy after sign-out');

    // the same for a session ended from the sessions list
    const { user: u2, jar: j2 } = await signedInUser('revoke-copies-list');
    const other = await anotherSession(u2);
    const jti2 = decodeJwtPayload(other.get(SESSION_COOKIE)).jti;
    const del = await account('DELETE', `/api/account/sessions/${jti2}`, j2);
    assert.equal(del.status, 200, del.text);
    const e2 = Number(psql(`SELECT "expires" FROM "RevokedSession" WHERE "id" = ${lit(jti2)}`));
    assert.ok(e2 >= now() + 30 * 86400 - 5, `revoked until ${e2 - now()} s from now`);
});

test('renewal refused: a token of a user that no longer exists', async () => {
    const { user, jar, me: who } = await signedInUser('renew-deleted');
    const t = now();
    const base = { sub: who.id, email: user.email, name: user.name };
    const fresh = jwt(claims(base));
    const old = jwt(claims({ ...base, iat: t - 2 * 86400, exp: t + 28 * 86400 }));
    // While the user exists both work (the old one is renewed).
    assert.equal((await sessionWith(fresh)).json().user?.email, user.email, 'control: fresh token');
    assert.equal((await sessionWith(old)).json().user?.email, user.email, 'control: token older than 24 h');

    // The user is deleted behind the platform's back (as V1 or an operator would).
    assert.equal(psql(`WITH d AS (DELETE FROM "User" WHERE "id" = ${lit(who.id)} RETURNING 1) SELECT count(*) FROM d`), '1');

    assertRenewalRefused(await sessionWith(fresh), 'deleted user, fresh iat');
    assertRenewalRefused(await sessionWith(old), 'deleted user, iat older than 24 h (the renewal case)');
    const s = await get('/api/auth/session', { headers: jar.headers() });
    assertRenewalRefused(s, 'deleted user, the cookie the platform issued');
});

// Waits until every worker nginx had before a SIGHUP has been replaced.
async function reloadNginx() {
    const master = stackPid('nginx');
    assert.ok(master && alive(master), 'the nginx master (pids/nginx.pid)');
    const old = childrenOf(master);
    assert.ok(old.length > 0, 'nginx has workers');
    process.kill(master, 'SIGHUP');
    const done = await retry(() => {
        const cur = childrenOf(master);
        return cur.length > 0 && !cur.some((p) => old.includes(p));
    }, 20000, 50);
    assert.ok(done, `nginx replaced its workers after SIGHUP (old ${old}, now ${childrenOf(master)})`);
}

test('revocation survives nginx -s reload and a platform restart', async () => {
    const { user, jar: live } = await signedInUser('survive');
    const dead = await anotherSession(user);
    const deadCopy = copyJar(dead);
    const res = await signOut(dead);
    const t0 = Date.now();
    assert.equal(res.status, 302, res.text);
    await assertRefusedWithin(assert, [deadCopy], 'the signed-out session', { t0 });

    // Several requests, so that every worker answers some.
    const check = async (when) => {
        for (let i = 0; i < 6; i++) {
            const d = await me(deadCopy);
            assert.equal(d.status, 401, `${when}: the revoked cookie must stay refused (request ${i + 1}): ${d.status}`);
            await assertWorks(live, user, `${when}: the live session`);
        }
    };

    await reloadNginx();
    await check('right after nginx -s reload');

    stackctl('restart-backend', 'platform');
    await check('after a platform restart');
    const s = await get('/api/auth/session', { headers: deadCopy.headers() });
    assert.deepEqual(s.json(), {}, 'the restarted platform refuses the revoked session too');
    const l = await get('/api/auth/session', { headers: live.headers() });
    assert.equal(l.json().user?.email, user.email, 'the restarted platform keeps the live session');

    // A revocation made after the restart still reaches the gateway.
    const later = await anotherSession(user);
    const laterCopy = copyJar(later);
    const r2 = await signOut(later);
    const t1 = Date.now();
    assert.equal(r2.status, 302, r2.text);
    await assertRefusedWithin(assert, [laterCopy], 'a sign-out after the platform restart', { t0: t1 });
    await assertWorks(live, user, 'the live session at the end');
});
