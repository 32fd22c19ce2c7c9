// Session tokens made outside the platform, with node:crypto as any
// standard JWT library would: what the gateway accepts and refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
    SECRET, SECRET2, SESSION_COOKIE, get, jwt, claims, now, b64url, isJson,
} from './lib.mjs';

const HTML = { Accept: 'text/html' };

async function me(cookie) {
    return get('/qwen/api/me', { headers: { Cookie: cookie } });
}

async function assertAccepted(cookie, c, what) {
    const res = await me(cookie);
    assert.equal(res.status, 200, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    assert.deepEqual(res.json(), { id: c.sub, email: c.email, name: c.name, module: 'qwen' }, what);
}

async function assertRefused(cookie, what) {
    const res = await me(cookie);
    assert.equal(res.status, 401, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    assert.ok(isJson(res), what);
    assert.equal(res.json().error, 'unauthorized', what);
    const page = await get('/grok/', { headers: { ...HTML, Cookie: cookie } });
    assert.equal(page.status, 302, `${what} (page): ${page.status}`);
    assert.equal(page.headers.location, `/api/auth/signin?callbackUrl=${encodeURIComponent('/grok/')}`);
}

test('the test stack gives the keys', () => {
    assert.ok(SECRET.length >= 32, 'NANO_TEST_SECRET (run through make test)');
    assert.ok(SECRET2.length >= 32 && SECRET2 !== SECRET, 'NANO_TEST_SECRET2: a second key');
});

test('a valid HS256 token made with the secret is accepted on every module', async () => {
    const c = claims();
    const tok = jwt(c);
    await assertAccepted(`${SESSION_COOKIE}=${tok}`, c, 'valid');
    for (const m of ['nano-banana', 'seedream', 'grok', 'openai', 'wan-2.5']) {
        const res = await get(`/${m}/api/me`, { headers: { Cookie: `${SESSION_COOKIE}=${tok}` } });
        assert.equal(res.status, 200, m);
        assert.equal(res.json().id, c.sub);
        assert.equal(res.json().module, m);
    }
});

test('optional header fields and claims do not matter', async () => {
    const c = claims({ picture: 'https://example.com/a.png' });
    await assertAccepted(`${SESSION_COOKIE}=${jwt(c, { header: { kid: 'k1' } })}`, c, 'kid header');
    const noTyp = `${b64url(JSON.stringify({ alg: 'HS256' }))}.${b64url(JSON.stringify(c))}`;
    const sig = crypto.createHmac('sha256', SECRET).update(noTyp).digest('base64url');
    await assertAccepted(`${SESSION_COOKIE}=${noTyp}.${sig}`, c, 'no typ');
    const c2 = claims();
    delete c2.iat;
    delete c2.jti;
    await assertAccepted(`${SESSION_COOKIE}=${jwt(c2)}`, c2, 'no iat, no jti');
});

test('the second key of the key file verifies too (rotation)', async () => {
    const c = claims();
    await assertAccepted(`${SESSION_COOKIE}=${jwt(c, { key: SECRET2 })}`, c, 'second key');
});

test('over http only the plain name is read: __Secure-next-auth.session-token is ignored', async () => {
    // The test stack's origin is http (docs/SESSIONS.md, one cookie rule).
    const c = claims();
    await assertRefused(`__Secure-${SESSION_COOKIE}=${jwt(c)}`, '__Secure- name over http');
    const other = claims();
    await assertAccepted(`__Secure-${SESSION_COOKIE}=${jwt(other)}; ${SESSION_COOKIE}=${jwt(c)}`, c,
        'the plain name beside a __Secure- one');
});

test('the cookie is found among others', async () => {
    const c = claims();
    await assertAccepted(`a=1; next-auth.csrf-token=x%7Cy; ${SESSION_COOKIE}=${jwt(c)}; z=2`, c, 'among others');
});

test('chunked cookies .0, .1 are joined; a gap is refused', async () => {
    const c = claims({ name: `Chunky ${'x'.repeat(200)}` });
    const tok = jwt(c);
    const half = Math.floor(tok.length / 2);
    await assertAccepted(`${SESSION_COOKIE}.0=${tok.slice(0, half)}; ${SESSION_COOKIE}.1=${tok.slice(half)}`, c, 'two chunks');
    await assertAccepted(`${SESSION_COOKIE}.1=${tok.slice(half)}; ${SESSION_COOKIE}.0=${tok.slice(0, half)}`, c, 'chunks out of order');
    await assertRefused(`${SESSION_COOKIE}.0=${tok.slice(0, half)}; ${SESSION_COOKIE}.2=${tok.slice(half)}`, 'a chunk gap');
    await assertRefused(`${SESSION_COOKIE}.1=${tok.slice(half)}`, 'no .0 chunk');
    await assertRefused(`${SESSION_COOKIE}.0=${tok.slice(0, half)}`, 'a missing last chunk');
});

test('a token NextAuth would chunk (chunks of <= 3933 bytes) is accepted', async () => {
    const c = claims({ name: `Big ${'n'.repeat(4500)}` });
    const tok = jwt(c);
    const parts = [];
    for (let i = 0; i < tok.length; i += 3933) parts.push(tok.slice(i, i + 3933));
    assert.ok(parts.length >= 2);
    const cookie = parts.map((p, i) => `${SESSION_COOKIE}.${i}=${p}`).join('; ');
    const res = await me(cookie);
    assert.equal(res.status, 200, `${parts.length} chunks, ${tok.length} bytes: ${res.status}`);
    assert.equal(res.json().id, c.sub);
});

test('alg none, HS384, HS512, RS256 and a lower-case hs256 are refused', async () => {
    const c = claims();
    await assertRefused(`${SESSION_COOKIE}=${jwt(c, { alg: 'none' })}`, 'alg none');
    const noneWithSig = jwt(c, { alg: 'none' }) + crypto.createHmac('sha256', SECRET).update('x').digest('base64url');
    await assertRefused(`${SESSION_COOKIE}=${noneWithSig}`, 'alg none with a signature');
    await assertRefused(`${SESSION_COOKIE}=${jwt(c, { alg: 'HS384' })}`, 'HS384');
    await assertRefused(`${SESSION_COOKIE}=${jwt(c, { alg: 'HS512' })}`, 'HS512');
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    await assertRefused(`${SESSION_COOKIE}=${jwt(c, { alg: 'RS256', privateKey })}`, 'RS256');
    await assertRefused(`${SESSION_COOKIE}=${jwt(c, { alg: 'hs256' })}`, 'alg hs256');
    await assertRefused(`${SESSION_COOKIE}=${jwt(c, { header: { alg: ['HS256'] } })}`, 'alg as an array');
});

test('a wrong key, an empty key and a short key are refused', async () => {
    const c = claims();
    await assertRefused(`${SESSION_COOKIE}=${jwt(c, { key: crypto.randomBytes(32).toString('hex') })}`, 'wrong key');
    await assertRefused(`${SESSION_COOKIE}=${jwt(c, { key: '' })}`, 'empty key');
    await assertRefused(`${SESSION_COOKIE}=${jwt(c, { key: SECRET.slice(0, 31) })}`, 'truncated key');
});

test('expiry, not-before and issued-at are enforced', async () => {
    const t = now();
    await assertRefused(`${SESSION_COOKIE}=${jwt(claims({ exp: t - 3600 }))}`, 'expired an hour ago');
    await assertRefused(`${SESSION_COOKIE}=${jwt(claims({ iat: t - 40 * 86400, exp: t - 10 * 86400 }))}`, 'expired days ago');
    const noExp = claims();
    delete noExp.exp;
    await assertRefused(`${SESSION_COOKIE}=${jwt(noExp)}`, 'missing exp');
    await assertRefused(`${SESSION_COOKIE}=${jwt(claims({ exp: String(t + 3600) }))}`, 'exp as a string');
    await assertRefused(`${SESSION_COOKIE}=${jwt(claims({ nbf: t + 3600 }))}`, 'nbf an hour ahead');
    await assertRefused(`${SESSION_COOKIE}=${jwt(claims({ iat: t + 3600 }))}`, 'iat an hour ahead');
    // Within the leeway (a few seconds of skew) still fine.
    const skew = claims({ nbf: t + 2, iat: t + 2 });
    await assertAccepted(`${SESSION_COOKIE}=${jwt(skew)}`, skew, 'nbf/iat 2 s ahead');
    const past = claims({ nbf: t - 60 });
    await assertAccepted(`${SESSION_COOKIE}=${jwt(past)}`, past, 'nbf in the past');
});

test('sub is required', async () => {
    const noSub = claims();
    delete noSub.sub;
    await assertRefused(`${SESSION_COOKIE}=${jwt(noSub)}`, 'missing sub');
    await assertRefused(`${SESSION_COOKIE}=${jwt(claims({ sub: '' }))}`, 'empty sub');
    await assertRefused(`${SESSION_COOKIE}=${jwt(claims({ sub: 42 }))}`, 'sub a number');
});

test('a tampered token is refused', async () => {
    const c = claims();
    const [h, , s] = jwt(c).split('.');
    const forged = b64url(JSON.stringify({ ...c, sub: 'admin' }));
    await assertRefused(`${SESSION_COOKIE}=${h}.${forged}.${s}`, 'payload swapped');
    const tok = jwt(c);
    const flipped = tok.slice(0, -2) + (tok.at(-2) === 'A' ? 'B' : 'A') + tok.at(-1);
    await assertRefused(`${SESSION_COOKIE}=${flipped}`, 'signature changed');
    await assertRefused(`${SESSION_COOKIE}=${tok.split('.').slice(0, 2).join('.')}.`, 'signature removed');
    await assertRefused(`${SESSION_COOKIE}=${tok}.extra`, 'a fourth part');
    await assertRefused(`${SESSION_COOKIE}=${tok.replace(/\./g, '.=')}`, 'padding inserted');
});

test('garbage cookies are refused, never crash anything', async () => {
    const junk = [
        '', 'x', 'not-a-jwt', 'a.b.c', '...', '....', '%00%00', 'eyJ.eyJ.sig',
        `${b64url('{')}.${b64url('{')}.x`, `${b64url('null')}.${b64url('null')}.x`,
        `${b64url('[]')}.${b64url('[]')}.x`, '\u00ff\u00fe', `${'A'.repeat(5000)}`,
    ];
    for (const v of junk) await assertRefused(`${SESSION_COOKIE}=${v}`, `junk ${JSON.stringify(v.slice(0, 20))}`);
    // A JSON header that is valid but whose payload is not JSON, signed right.
    const h = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const p = b64url('not json');
    const s = crypto.createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url');
    await assertRefused(`${SESSION_COOKIE}=${h}.${p}.${s}`, 'signed non-JSON payload');
});

test('a huge cookie (20 KB) is refused with 401, not an error', async () => {
    const res = await me(`${SESSION_COOKIE}=${'A'.repeat(20 * 1024)}`);
    assert.equal(res.status, 401, `${res.status} ${res.text.slice(0, 200)}`);
    const chunks = Array.from({ length: 9 }, (_, i) => `${SESSION_COOKIE}.${i}=${'B'.repeat(2000)}`).join('; ');
    const many = await me(chunks);
    assert.equal(many.status, 401, `9 chunks: ${many.status}`);
    const c = claims();
    await assertAccepted(`${SESSION_COOKIE}=${jwt(c)}`, c, 'the gateway still works');
});

test("the user's name is escaped in module pages", async () => {
    const c = claims({ name: '<script>alert("x")</script> & Co' });
    const cookie = `${SESSION_COOKIE}=${jwt(c)}`;
    await assertAccepted(cookie, c, 'name with markup');
    const page = await get('/qwen/', { headers: { ...HTML, Cookie: cookie } });
    assert.equal(page.status, 200);
    assert.ok(!page.text.includes('<script>alert("x")</script>'), 'the name is inserted unescaped');
});
