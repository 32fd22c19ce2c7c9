// NANO_SESSION_MAX_AGE (NextAuth's session.maxAge), through the real
// stack: the platform restarted with a 300 s lifetime issues cookies,
// tokens, /api/auth/session answers and "AuthSession" rows that end 300 s
// later; it renews a session a thirtieth of that old (10 s) and not a
// younger one; the gateway refuses such a token once its exp passed.
// Revocations still use the 30-day upper bound.  The refusals of bad
// values at start are in config.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
    SESSION_COOKIE, get, jwt, claims, now, decodeJwtPayload,
    parseSetCookie, signedInUser, keepRunning, STATE,
} from './lib.mjs';
import { psql, lit, signOut } from './accounts.mjs';
import { withBackendEnv } from './generations.mjs';

keepRunning(['platform']);

const NGINX_CONF = `${STATE}/nginx/conf/nginx.conf`;

const AGE = 300;

const sessionCookie = (res) => res.setCookies.map(parseSetCookie).find((c) => c.name === SESSION_COOKIE);
const rowExpires = (jti) => Number(psql(`SELECT "expires" FROM "AuthSession" WHERE "id" = ${lit(jti)}`));
const me = (token) => get('/qwen/api/me', { headers: { Cookie: `${SESSION_COOKIE}=${token}` } });

test(`NANO_SESSION_MAX_AGE=${AGE}: sign-in, renewal and the gateway follow the shorter lifetime`, () =>
    withBackendEnv('platform', [`NANO_SESSION_MAX_AGE=${AGE}`], async () => {
        const t0 = now();
        const { jar, me: who } = await signedInUser('age');
        const token = jar.get(SESSION_COOKIE);
        const p = decodeJwtPayload(token);
        assert.equal(p.exp - p.iat, AGE, 'the token lives 300 s');
        assert.ok(p.iat >= t0 - 1 && p.iat <= now() + 1, `iat ${p.iat}`);
        assert.equal(rowExpires(p.jti), p.exp, 'the "AuthSession" row ends with the token');

        // the cookie's Expires is the token's exp; the session answer's too
        const res = await get('/api/auth/session', { headers: jar.headers() });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json().user.email, who.email);
        assert.equal(Date.parse(res.json().expires) / 1000, p.exp, 'the answer\'s expires');
        assert.equal(sessionCookie(res), undefined, 'a token 0 s old is not renewed');

        // this session's token as the platform issues it at iat
        const tokenAt = (iat) => jwt(claims({ sub: who.id, email: who.email, name: who.name, jti: p.jti, iat, exp: iat + AGE }));

        const young = await get('/api/auth/session', { headers: { Cookie: `${SESSION_COOKIE}=${tokenAt(now() - 5)}` } });
        assert.equal(young.status, 200);
        assert.equal(sessionCookie(young), undefined, 'a token 5 s old is not renewed (updateAge 10 s)');

        // renewal after a thirtieth of the lifetime: the same session id,
        // a fresh 300 s, the cookie ending with it
        const t = now();
        const renewed = await get('/api/auth/session', { headers: { Cookie: `${SESSION_COOKIE}=${tokenAt(t - 11)}` } });
        assert.equal(renewed.status, 200, renewed.text);
        const c = sessionCookie(renewed);
        assert.ok(c && c.value, 'a token 11 s old is renewed');
        const q = decodeJwtPayload(c.value);
        assert.equal(q.jti, p.jti, 'the same session');
        assert.ok(q.iat >= t && q.iat <= now() + 1, `renewed iat ${q.iat}`);
        assert.equal(q.exp - q.iat, AGE, 'renewed for 300 s, not 30 days');
        assert.equal(Date.parse(c.attrs.expires) / 1000, q.exp, `the cookie's Expires ${c.attrs.expires}`);
        assert.equal(Date.parse(renewed.json().expires) / 1000, q.exp);
        assert.equal(rowExpires(p.jti), q.exp, 'the row moved on with it');
        assert.equal((await me(c.value)).status, 200, 'the renewed token opens a module');

        // a token of this session as the platform issued it 361 s ago:
        // ended 61 s ago, past the gateway's 60 s leeway
        const ended = tokenAt(now() - AGE - 61);
        const refused = await me(ended);
        assert.equal(refused.status, 401, `the gateway refuses it: ${refused.status}`);
        const gone = await get('/api/auth/session', { headers: { Cookie: `${SESSION_COOKIE}=${ended}` } });
        assert.deepEqual(gone.json(), {}, 'and the platform reads no session');
    }));

// A token issued under the 30 days before the restart with 300 s: the
// gateway (nano_auth_max_age, which stackctl's restart of the platform
// wrote into nginx's config from the same NANO_SESSION_MAX_AGE) and the
// platform end it 300 s after its iat (and the 60 s leeway), not at its
// own exp, 30 days away; one 200 s old is still taken, and renewed for
// 300 s.  Until 2026-12-07 both took the old token for 30 days.
test(`NANO_SESSION_MAX_AGE=${AGE}: tokens issued under 30 days before the restart end ${AGE} s after their iat`, async () => {
    const { jar, me: who } = await signedInUser('ageold');
    const p = decodeJwtPayload(jar.get(SESSION_COOKIE));
    assert.equal(p.exp - p.iat, 30 * 86400, 'issued under the 30 days');
    const issuedAt = (iat) => jwt(claims({ sub: who.id, email: who.email, name: who.name, jti: p.jti, iat, exp: iat + 30 * 86400 }));
    const page = (token) => get('/qwen/', { headers: { Cookie: `${SESSION_COOKIE}=${token}`, Accept: 'text/html' } });
    const session = (token) => get('/api/auth/session', { headers: { Cookie: `${SESSION_COOKIE}=${token}` } });
    const old = issuedAt(now() - AGE - 61);
    assert.equal((await me(old)).status, 200, 'the 30 days take it');

    await withBackendEnv('platform', [`NANO_SESSION_MAX_AGE=${AGE}`], async () => {
        const refused = await me(old);
        assert.equal(refused.status, 401, `an API refuses it: ${refused.text}`);
        const sent = await page(old);
        assert.equal(sent.status, 302, 'a browser goes to sign in');
        assert.match(sent.headers.location, /^\/api\/auth\/signin\?callbackUrl=/);
        assert.deepEqual((await session(old)).json(), {}, 'the platform reads no session');

        const young = issuedAt(now() - 200);
        assert.equal((await me(young)).status, 200, 'a token 200 s old is taken');
        assert.equal((await page(young)).status, 200, 'and opens the page');
        const renewed = await session(young);
        assert.equal(renewed.json().user?.email, who.email, renewed.text);
        const c = sessionCookie(renewed);
        assert.ok(c && c.value, 'renewed (200 s is past the 10 s renewal age)');
        const q = decodeJwtPayload(c.value);
        assert.equal(q.exp - q.iat, AGE, 'for 300 s');
        assert.equal((await me(c.value)).status, 200, 'the renewed token opens a module');
        assert.match(fs.readFileSync(NGINX_CONF, 'utf8'), new RegExp(`^\\s*nano_auth_max_age\\s+${AGE}s;$`, 'm'), 'nginx has the same lifetime');
    });
    // back to the 30 days: nginx follows the platform again
    assert.match(fs.readFileSync(NGINX_CONF, 'utf8'), /^\s*nano_auth_max_age\s+2592000s;$/m);
    assert.equal((await me(old)).status, 200, 'the 30 days take it again');
});

// The settings page's list of sessions (and the export's) after the
// lifetime was shortened: a session whose row was last used longer ago
// than the new lifetime (and a renewal's minute and the leeway) has no
// token the gateway takes, and is not listed; one used 350 s ago may hold
// a token still taken (300 s and the 60 s leeway), and is.  Until
// 2026-12-07 both were listed for their rows' 30 days.
test(`NANO_SESSION_MAX_AGE=${AGE}: the sessions listed are the ones still live`, async () => {
    const { jar, me: who } = await signedInUser('agelist');
    const mine = decodeJwtPayload(jar.get(SESSION_COOKIE)).jti;
    const row = (id, ago) => psql(`INSERT INTO "AuthSession" ("id","userId","lastSeenAt","expires")
        VALUES (${lit(id)}, ${lit(who.id)}, (now() AT TIME ZONE 'utc') - interval '${ago} seconds',
            extract(epoch FROM now())::bigint + 29 * 86400)`);
    const stale = `agelist-stale-${now()}`;
    const recent = `agelist-recent-${now()}`;
    row(stale, 1000);
    row(recent, 350);
    const listed = async () => {
        const res = await get('/api/account/sessions', { headers: jar.headers() });
        assert.equal(res.status, 200, res.text.slice(0, 200));
        const exp = await get('/api/account/export', { headers: jar.headers() });
        assert.equal(exp.status, 200, exp.text.slice(0, 200));
        const ids = res.json().sessions.map((x) => x.id).sort();
        assert.deepEqual(exp.json().sessions.map((x) => x.id).sort(), ids, 'the export lists the same');
        return ids;
    };
    assert.deepEqual(await listed(), [mine, recent, stale].sort(), 'under the 30 days all three');
    await withBackendEnv('platform', [`NANO_SESSION_MAX_AGE=${AGE}`], async () => {
        assert.deepEqual(await listed(), [mine, recent].sort(), 'under 300 s not the one last used 1000 s ago');
    });
    assert.deepEqual(await listed(), [mine, recent, stale].sort(), 'back under the 30 days all three');
});

// Revocations keep the 30-day upper bound whatever the lifetime, so one
// made under a short lifetime still covers a copy renewed before a
// restart with a longer one.
test(`NANO_SESSION_MAX_AGE=${AGE}: a sign-out still revokes for 30 days`, () =>
    withBackendEnv('platform', [`NANO_SESSION_MAX_AGE=${AGE}`], async () => {
        const { jar } = await signedInUser('agerev');
        const p = decodeJwtPayload(jar.get(SESSION_COOKIE));
        await signOut(jar);
        const e = Number(psql(`SELECT "expires" FROM "RevokedSession" WHERE "id" = ${lit(p.jti)}`));
        assert.ok(e >= now() + 30 * 86400 - 5, `revoked until ${e - now()} s from now`);
    }));
