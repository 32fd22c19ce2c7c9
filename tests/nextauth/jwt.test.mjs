// NextAuth v4's own token code, next-auth/jwt (4.24.x), against the
// gateway and the platform (issue 8, docs/SESSIONS.md "JWE"):
//   - a JWE minted by next-auth's encode() with the stack's secret is
//     accepted by the gateway and the platform, plain and chunked the way
//     next-auth's SessionStore chunks it, with every claim it carries;
//   - tampering in the header, iv, ciphertext or tag, a wrong enc or alg
//     (made with jose, next-auth's own JWE library) and another secret
//     are refused;
//   - the platform run with NANO_SESSION_FORMAT=jwe (and a key file
//     naming kids) issues a JWE that next-auth's decode() and getToken()
//     read, with the kid of its signing key, and the gateway accepts; a
//     Next.js app's withAuth middleware lets it through;
//   - with NANO_SESSION_MAX_AGE (session.maxAge) the platform's JWE ends
//     where next-auth's encode() with that maxAge ends it, and a token
//     a Next.js app minted with it passes.
//
// Run by scripts/test.sh against the test stack, with next-auth installed
// by `npm ci --prefix tests/nextauth`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
    BASE, SECRET, SECRET2, STATE, SESSION_COOKIE, get, isJson, signedInUser, Jar, signIn,
} from '../integration/lib.mjs';
import { withBackendEnv } from '../integration/generations.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { encode, decode, getToken } = require('next-auth/jwt');
// next-auth's Next.js middleware, on a request as Next.js builds one
const { withAuth } = require('next-auth/middleware');
const { NextRequest } = require('next/server');
const jose = require('jose');
// next-auth's cookie chunker is not among its package exports: by path
const { SessionStore } = require(path.join(HERE, 'node_modules/next-auth/core/lib/cookie.js'));
const HKDF_INFO = 'NextAuth.js Generated Encryption Key';
const OTHER_SECRET = 'another-deployment-secret-0123456789abcdefghij';

assert.match(JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules/next-auth/package.json'), 'utf8')).version, /^4\.24\./);

// next-auth's getToken() on a request as Next.js hands it over: the
// cookies already parsed into an object.
function tokenOf(cookie) {
    const cookies = Object.fromEntries(cookie.split('; ').map((c) => {
        const i = c.indexOf('=');
        return [c.slice(0, i), c.slice(i + 1)];
    }));
    return getToken({ req: { cookies, headers: {} }, secret: SECRET });
}

const me = (cookie) => get('/qwen/api/me', { headers: { Cookie: cookie } });
const session = (cookie) => get('/api/auth/session', { headers: { Cookie: cookie } });

// next-auth's SessionStore splits a token as next-auth itself sets it:
// <name> when it fits, else <name>.0, <name>.1, ... of at most 3933 bytes.
function chunks(token) {
    const quiet = { debug() {}, warn() {}, error() {} };
    const store = new SessionStore({ name: SESSION_COOKIE, options: {} }, { cookies: {} }, quiet);
    return store.chunk(token, {}).map((c) => `${c.name}=${c.value}`);
}

// A token for a real, signed-in user, made by next-auth's encode().
async function personToken(over = {}) {
    const p = await signedInUser('jwe');
    const claims = {
        name: p.user.name, email: p.user.email, picture: 'https://example.com/p.png',
        sub: p.me.id, ...over,
    };
    return { p, claims, token: await encode({ token: claims, secret: SECRET }) };
}

async function assertGateway(cookie, claims, what) {
    const res = await me(cookie);
    assert.equal(res.status, 200, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    assert.deepEqual(res.json(), { id: claims.sub, email: claims.email, name: claims.name, module: 'qwen' }, what);
}

async function assertRefused(token, what) {
    const res = await me(`${SESSION_COOKIE}=${token}`);
    assert.equal(res.status, 401, `${what}: ${res.status}`);
    assert.ok(isJson(res), what);
}

// Flips one base64url character of part i (0 header .. 4 tag).
function flip(token, i) {
    const parts = token.split('.');
    const s = parts[i];
    const pos = Math.floor(s.length / 2);
    parts[i] = s.slice(0, pos) + (s[pos] === 'A' ? 'B' : 'A') + s.slice(pos + 1);
    return parts.join('.');
}

test('next-auth encode(): its JWE is accepted by the gateway and the platform with every claim', async () => {
    const { claims, token } = await personToken();
    assert.equal(token.split('.').length, 5);
    assert.deepEqual(jose.decodeProtectedHeader(token), { alg: 'dir', enc: 'A256GCM' });
    const payload = await decode({ token, secret: SECRET });
    for (const k of ['name', 'email', 'picture', 'sub', 'iat', 'exp', 'jti']) {
        assert.ok(payload[k] !== undefined, `next-auth wrote ${k}`);
    }
    const cookie = `${SESSION_COOKIE}=${token}`;
    await assertGateway(cookie, claims, 'gateway');
    const s = await session(cookie);
    assert.equal(s.status, 200);
    const body = s.json();
    // the platform shows the user as its database has it (no picture)
    assert.deepEqual(body.user, { name: claims.name, email: claims.email, image: null });
    assert.ok(Date.parse(body.expires) > Date.now());
});

test('next-auth encode(): a chunked JWE (next-auth\'s SessionStore) is accepted', async () => {
    const long = `Tess ${'x'.repeat(4500)}`;
    const { claims, token } = await personToken({ name: long });
    const cookies = chunks(token);
    assert.ok(cookies.length >= 2, `chunked into ${cookies.length}`);
    assert.match(cookies[0], new RegExp(`^${SESSION_COOKIE.replace(/\./g, '\\.')}\\.0=`));
    const cookie = cookies.join('; ');
    await assertGateway(cookie, claims, 'gateway, chunked');
    const s = await session(cookie);
    assert.equal(s.status, 200, 'platform, chunked');
    assert.equal(s.json().user.email, claims.email);
    // and next-auth's own getToken() reads the same cookies back
    const t = await tokenOf(cookie);
    assert.equal(t.sub, claims.sub);
    assert.equal(t.name, long);
});

test('next-auth encode() with the second (verify-only) key is accepted: rotation', async () => {
    const p = await signedInUser('jwe2');
    const claims = { name: p.user.name, email: p.user.email, sub: p.me.id };
    await assertGateway(`${SESSION_COOKIE}=${await encode({ token: claims, secret: SECRET2 })}`, claims, 'second key');
});

test('tampering in header, iv, ciphertext or tag, a wrong enc or alg, another secret: refused', async () => {
    const { claims, token } = await personToken();
    await assertGateway(`${SESSION_COOKIE}=${token}`, claims, 'untouched');
    const names = ['header', 'encrypted key', 'iv', 'ciphertext', 'tag'];
    for (const i of [0, 2, 3, 4]) {
        const bad = flip(token, i);
        await assert.rejects(decode({ token: bad, secret: SECRET }), `next-auth refuses a changed ${names[i]} too`);
        await assertRefused(bad, `${names[i]} changed`);
    }
    const [, ek, iv, ct, tag] = token.split('.');
    const h = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: 'x' })).toString('base64url');
    await assertRefused([h, ek, iv, ct, tag].join('.'), 'another header under the same tag');
    await assertRefused(token.slice(0, -4), 'truncated');

    const key = new Uint8Array(crypto.hkdfSync('sha256', SECRET, '', HKDF_INFO, 32));
    const now = Math.floor(Date.now() / 1000);
    const wrong = [
        [{ alg: 'dir', enc: 'A128GCM' }, key.slice(0, 16), 'enc A128GCM'],
        [{ alg: 'dir', enc: 'A256CBC-HS512' }, new Uint8Array(64).fill(7), 'enc A256CBC-HS512'],
        [{ alg: 'A256KW', enc: 'A256GCM' }, key, 'alg A256KW'],
        [{ alg: 'dir', enc: 'A256GCM', zip: 'DEF' }, key, 'zip DEF'],
    ];
    for (const [header, k, what] of wrong) {
        const t = await new jose.EncryptJWT({ ...claims }).setProtectedHeader(header)
            .setIssuedAt(now).setExpirationTime(now + 3600).setJti('x').encrypt(k);
        await assertRefused(t, what);
    }
    await assertRefused(await encode({ token: claims, secret: OTHER_SECRET }), 'another secret');
    await assertRefused(await encode({ token: claims, secret: SECRET, salt: 'x' }), 'a salted key');
    const expired = await encode({ token: claims, secret: SECRET, maxAge: -20 });
    await assertRefused(expired, 'expired beyond next-auth\'s 15 s tolerance');
});

test('NANO_SESSION_FORMAT=jwe: the platform issues a JWE next-auth decode()s, with its kid', async () => {
    // the same two keys, named: the platform's header carries "k1"; the
    // stack's nginx reads the unnamed file and so tries both keys
    const keys = path.join(STATE, 'keys-kid');
    fs.writeFileSync(keys, `nano-keys 2\nk1 ${SECRET}\nk2 ${SECRET2}\n`, { mode: 0o600 });
    await withBackendEnv('platform', ['NANO_SESSION_FORMAT=jwe', `NANO_SECRET_FILE=${keys}`], async () => {
        const p = await signedInUser('pjwe');
        const token = p.jar.get(SESSION_COOKIE);
        assert.equal(token.split('.').length, 5, 'a compact JWE');
        assert.deepEqual(jose.decodeProtectedHeader(token), { alg: 'dir', enc: 'A256GCM', kid: 'k1' });
        const t0 = Math.floor(Date.now() / 1000);
        const payload = await decode({ token, secret: SECRET });
        assert.equal(payload.sub, p.me.id);
        assert.equal(payload.email, p.user.email);
        assert.equal(payload.name, p.user.name);
        assert.match(payload.jti, /^[0-9a-f-]{36}$/);
        assert.ok(Math.abs(payload.iat - t0) < 30, 'iat now');
        assert.equal(payload.exp - payload.iat, 30 * 24 * 3600, '30 days');
        const t = await tokenOf(`${SESSION_COOKIE}=${token}`);
        assert.equal(t.jti, payload.jti);
        // a Next.js app's withAuth lets the platform's session through and
        // sends a request without one, or with a changed one, to sign in
        const guard = withAuth({ secret: SECRET });
        const through = (cookie) => guard(new NextRequest(`${BASE}/next-app/`, { headers: { cookie } }),
            { waitUntil() {} });
        assert.equal(await through(`${SESSION_COOKIE}=${token}`), undefined, 'withAuth lets it through');
        // changed for sure: a tag that happened to end in "AA" (about one
        // token in 256) was left as it was, and let through
        const parts = token.split('.');
        parts[3] = (parts[3][0] === 'A' ? 'B' : 'A') + parts[3].slice(1);
        for (const cookie of ['', `${SESSION_COOKIE}=${parts.join('.')}`]) {
            const r = await through(cookie);
            assert.equal(r?.status, 307, `withAuth redirects ${cookie ? 'a changed token' : 'no token'}`);
            assert.equal(new URL(r.headers.get('location')).pathname, '/api/auth/signin');
        }
        // the gateway (this is what /qwen/api/me in signedInUser read) and
        // the platform read it back
        assert.equal(p.me.id, payload.sub);
        assert.equal((await session(`${SESSION_COOKIE}=${token}`)).json().user.email, p.user.email);
        // a second sign-in is a JWE under the same key, another jti
        const jar = new Jar();
        await signIn(jar, p.user.email, p.user.password);
        const again = await decode({ token: jar.get(SESSION_COOKIE), secret: SECRET });
        assert.notEqual(again.jti, payload.jti);
    });
    // back to JWS
    const p = await signedInUser('pjws');
    assert.equal(p.jar.get(SESSION_COOKIE).split('.').length, 3, 'JWS again by default');
});

// session.maxAge shared by a Next.js app and the platform: both write the
// same lifetime, and each reads the other's.
test('NANO_SESSION_MAX_AGE: the platform\'s JWE ends as next-auth\'s encode() with that maxAge ends it', async () => {
    const maxAge = 3600;
    await withBackendEnv('platform', ['NANO_SESSION_FORMAT=jwe', `NANO_SESSION_MAX_AGE=${maxAge}`], async () => {
        const p = await signedInUser('pjweage');
        const token = p.jar.get(SESSION_COOKIE);
        const payload = await decode({ token, secret: SECRET });
        assert.equal(payload.exp - payload.iat, maxAge, 'the platform\'s lifetime');
        const theirs = await encode({ token: { sub: p.me.id, email: p.user.email, name: p.user.name }, secret: SECRET, maxAge });
        const t = await decode({ token: theirs, secret: SECRET });
        assert.equal(t.exp - t.iat, maxAge, 'next-auth\'s, the same');
        assert.equal((await me(`${SESSION_COOKIE}=${theirs}`)).status, 200, 'the gateway takes next-auth\'s');
        assert.equal((await session(`${SESSION_COOKIE}=${theirs}`)).json().user?.email, p.user.email, 'so does the platform');
    });
});
