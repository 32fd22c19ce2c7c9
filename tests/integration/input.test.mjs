// Strict input (issue 5, docs/SESSIONS.md "Strict input"): invalid UTF-8
// is a 400 (or CredentialsSignin at sign-in), never a 500; emails are
// trimmed, NFC-normalised and refused at registration when they hold
// invisible or unassigned characters; new passwords have at most 72
// bytes while V1's longer ones still sign in; a body that does not match
// CONTENT_LENGTH is a 400 (sent to the platform's socket directly, as
// nginx never forwards one); several HTTP_COOKIE params are one header
// and a name twice with different values is no session; the platform
// refuses to serve without the gateway's NANO_AUTH_ORIGIN; a backend
// stopped on an inherited socket leaves it listening; nginx's own
// refusals of malformed requests are JSON on API paths, a page elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import {
    BASE, ORIGIN, SOCK_DIR, SESSION_COOKIE, Jar, get, request, form, newUser,
    register, csrf, signIn, signedInUser, location, isJson, retry,
    decodeJwtPayload, MODULES,
} from './lib.mjs';
import { FORM, psql, lit, clearsSession, account } from './accounts.mjs';
import { fcgiRequest, nginxParams } from './fcgi.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NANO_TOKEN = path.join(ROOT, 'build/bin/nano-token');
const QWEN = path.join(ROOT, 'build/bin/nano-qwen');
const PLATFORM_SOCK = `${SOCK_DIR}/platform.sock`;
const PORT = new URL(BASE).port || '80';
const id = () => crypto.randomBytes(5).toString('hex');
// Non-ASCII as \uXXXX, so that an assertion shows NFC and NFD apart.
const esc = (s) => String(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

// --- invalid UTF-8 ------------------------------------------------------------

// Percent-encoded bytes a strict validator refuses, in an email.
// (A fresh prefix per run, so that repeated runs against one stack never
// add up in the per-account throttle.)
const RUN = id();
const BAD_EMAILS = [
    ['an invalid byte (0xff)', `${RUN}a%ff%40x.com`],
    ['an overlong "/" (c0 af)', `${RUN}a%c0%af%40x.com`],
    ['a surrogate (ed a0 80)', `${RUN}a%ed%a0%80%40x.com`],
];

test('invalid UTF-8 in a form email: /api/register answers 400, never 500', async () => {
    for (const [what, enc] of BAD_EMAILS) {
        const res = await request('POST', '/api/register', {
            headers: FORM, body: `email=${enc}&name=X&password=pw-long-enough-123`,
        });
        assert.equal(res.status, 400, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.ok(isJson(res), what);
        // named, as every invalid_field is (it named none until the
        // apiedges probe)
        assert.deepEqual(res.json(), { error: 'invalid_field', field: 'email', message: 'a field is not valid UTF-8' }, what);
    }
});

test('invalid UTF-8 in a form email or password: sign-in answers CredentialsSignin, never 500', async () => {
    const cases = [...BAD_EMAILS.map(([what, enc]) => [`email with ${what}`, `email=${enc}&password=whatever-123`]),
        ['a password with an invalid byte', `email=someone-${RUN}%40example.com&password=pw%ff-long-enough`]];
    for (const [what, fields] of cases) {
        const jar = new Jar();
        const csrfToken = await csrf(jar);
        let res = await request('POST', '/api/auth/callback/credentials', {
            headers: jar.headers(FORM), body: `${form({ csrfToken, callbackUrl: '/' })}&${fields}`,
        });
        assert.equal(res.status, 302, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
        const { url } = location(res);
        assert.equal(url.origin, ORIGIN, what);
        assert.equal(url.pathname, '/api/auth/error', `${what}: ${url}`);
        assert.equal(url.searchParams.get('error'), 'CredentialsSignin', `${what}: ${url}`);

        res = await request('POST', '/api/auth/callback/credentials', {
            headers: jar.headers(FORM), body: `${form({ csrfToken, callbackUrl: '/', json: 'true' })}&${fields}`,
        });
        assert.equal(res.status, 401, `${what} (json=true): ${res.status} ${res.text.slice(0, 200)}`);
        assert.match(res.json().url, /\/api\/auth\/error\?error=CredentialsSignin/, what);
        assert.equal(jar.get(SESSION_COOKIE), undefined, `${what}: no session`);
    }
});

test('a JSON body with raw invalid UTF-8 (or a lone surrogate escape) is a 400', async () => {
    const raw = (bytes) => Buffer.concat([
        Buffer.from('{"email":"a'), Buffer.from(bytes),
        Buffer.from(`b-${id()}@example.com","name":"X","password":"pw-long-enough"}`),
    ]);
    const bodies = [
        ['a raw 0xff byte', raw([0xff])],
        ['a raw overlong "/"', raw([0xc0, 0xaf])],
        ['a raw surrogate', raw([0xed, 0xa0, 0x80])],
        ['an escaped lone surrogate', Buffer.from(`{"email":"a\\ud800b-${id()}@example.com","name":"X","password":"pw-long-enough"}`)],
    ];
    for (const [what, body] of bodies) {
        const res = await request('POST', '/api/register', {
            headers: { 'Content-Type': 'application/json', Origin: ORIGIN }, body,
        });
        assert.equal(res.status, 400, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.ok(isJson(res), what);
    }
});

// --- emails -------------------------------------------------------------------

test('registration refuses emails with invisible, private-use, unassigned or compatibility characters (invalid_email)', async () => {
    const chars = [
        ['U+200B zero width space (Cf)', '\u200b'],
        ['U+00A0 no-break space (Zs)', '\u00a0'],
        ['U+00AD soft hyphen (Cf)', '\u00ad'],
        ['U+E000 private use (Co)', '\ue000'],
        ['U+0378 unassigned (Cn)', '\u0378'],
        ['U+2028 line separator (Zl)', '\u2028'],
        ['U+0085 next line (Cc)', '\u0085'],
        // compatibility forms: another spelling of an address whose
        // mailbox may already have an account
        ['U+FF4D full-width m', '\uff4d'],
        ['U+FB01 ligature fi', '\ufb01'],
        ['U+3002 ideographic full stop', '\u3002'],
        ['U+FF0E fullwidth full stop', '\uff0e'],
    ];
    for (const [what, ch] of chars) {
        for (const email of [`a${ch}b-${id()}@example.com`, `ab-${id()}@exa${ch}mple.com`]) {
            const res = await register({ ...newUser('uni'), email });
            assert.equal(res.status, 400, `${what} in ${JSON.stringify(email)}: ${res.status} ${res.text.slice(0, 200)}`);
            assert.equal(res.json().error, 'invalid_email', what);
        }
    }
    // Letters beyond ASCII are fine.
    const ok = await register({ ...newUser('uni'), email: `zoë-brontë-${id()}@example.com` });
    assert.equal(ok.status, 201, `a Latin-1 letter is allowed: ${ok.text.slice(0, 200)}`);
});

test('registration: a JSON value that is not a string is refused naming its field, and nobody is made', async () => {
    for (const field of ['email', 'password', 'name']) {
        for (const v of [true, false, 12, ['a'], { a: 1 }]) {
            const user = newUser('notext');
            const res = await register({ ...user, [field]: v });
            assert.equal(res.status, 400, `${field}: ${JSON.stringify(v)}: ${res.status} ${res.text.slice(0, 200)}`);
            const j = res.json();
            if (typeof v === 'object') {
                // an array or object cannot be a form field at all
                assert.deepEqual([j.error, j.field], ['invalid_field', field], `${field}: ${JSON.stringify(v)}: ${res.text}`);
            } else {
                assert.equal(j.error, `invalid_${field}`, `${field}: ${JSON.stringify(v)}: ${res.text}`);
            }
            if (field !== 'email') {
                assert.equal(psql(`SELECT count(*) FROM "User" WHERE "email" = ${lit(user.email.toLowerCase())}`), '0',
                    `${field}: ${JSON.stringify(v)}: no user made`);
            }
        }
    }
});

test('emails are NFC-normalised: registered decomposed, signed in composed (and the other way round)', async () => {
    for (const [regForm, signForm] of [['NFD', 'NFC'], ['NFC', 'NFD']]) {
        const tag = id();
        const composed = `\u00e9x-${tag}@example.com`;          // é as one code point
        const decomposed = `e\u0301x-${tag}@example.com`;       // e + combining acute
        const forms = { NFC: composed, NFD: decomposed };
        const user = { ...newUser('nfc'), email: forms[regForm] };
        const res = await register(user);
        assert.equal(res.status, 201, `register ${regForm}: ${res.text.slice(0, 200)}`);
        assert.equal(esc(res.json().email), esc(composed), `the stored email is NFC (registered ${regForm})`);

        const jar = new Jar();
        const login = await signIn(jar, forms[signForm], user.password);
        assert.equal(login.status, 302, login.text);
        assert.ok(jar.get(SESSION_COOKIE), `registered ${regForm}, signed in ${signForm}: ${login.headers.location}`);
        const me = await get('/qwen/api/me', { headers: jar.headers() });
        assert.equal(me.json().email, composed);

        // The same address again in the other form is taken.
        const dup = await register({ ...newUser('nfc'), email: forms[signForm] });
        assert.equal(dup.status, 409, `the ${signForm} form of a registered ${regForm} email: ${dup.text.slice(0, 200)}`);
    }
});

test('emails stay case-insensitive and trimmed at sign-in', async () => {
    const tag = id();
    const user = { ...newUser('case'), email: `\u00e9x-case-${tag}@example.com` };
    assert.equal((await register(user)).status, 201);
    for (const written of [`\u00e9X-CASE-${tag}@Example.COM`, `  ${user.email}  `, `e\u0301X-Case-${tag}@EXAMPLE.com`]) {
        const jar = new Jar();
        const res = await signIn(jar, written, user.password);
        assert.ok(jar.get(SESSION_COOKIE), `sign in as ${JSON.stringify(written)}: ${res.status} ${res.headers.location}`);
    }
});

// --- passwords ----------------------------------------------------------------

async function registersAndSignsIn(password, what) {
    const user = { ...newUser('pw'), password };
    const res = await register(user);
    assert.equal(res.status, 201, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    const jar = new Jar();
    await signIn(jar, user.email, password);
    assert.ok(jar.get(SESSION_COOKIE), `${what}: signs in`);
}

async function refused(password, what) {
    const res = await register({ ...newUser('pw'), password });
    assert.equal(res.status, 400, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    assert.equal(res.json().error, 'invalid_password', what);
    assert.match(res.json().message, /72/, `${what}: the message names the 72-byte limit: ${res.json().message}`);
}

test('new passwords: 72 bytes accepted, 73 refused with a message that says 72; bytes, not characters', async () => {
    await registersAndSignsIn('p'.repeat(72), '72 ASCII bytes');
    await refused('p'.repeat(73), '73 ASCII bytes');
    await registersAndSignsIn('\u00e9'.repeat(36), '36 × é = 72 bytes');
    await registersAndSignsIn('🍌'.repeat(18), '18 bananas = 72 bytes');
    await refused(`${'\u00e9'.repeat(36)}a`, '37 characters, 73 bytes');
    await refused('p'.repeat(200), '200 bytes (V1 allowed that)');
});

// An invalid_field names its field, as every other one does (a page or a
// client shows the message beside it): until 2026-12-07 a password change
// without one of its fields was 400 invalid_field with no "field" at all
// (found by the contract probe).
// A key written twice is JSON's invalid_json (docs/MODULES.md), but until
// 2026-12-07 its message said "the body must be a JSON object of strings,
// true/false or whole numbers", which sent a client looking at its types
// (found by the contract probe).
test('a JSON key given twice is 400 invalid_json that says so, costing nothing', async () => {
    const u = await signedInUser('dupkey');
    const before = (await get('/api/credits', { headers: u.jar.headers() })).json().balance;
    const calls = [
        ['POST', '/nano-banana/api/generate', '{"prompt":"a","prompt":"b"}'],
        ['POST', '/qwen/api/generate', '{"prompt":"a","prompt":"b"}'],
        ['POST', '/qwen/api/generate', '{"messages":[{"role":"user","content":"a","role":"system"}]}'],
        ['POST', '/api/account/profile', '{"name":"a","name":"b"}'],
    ];
    for (const [method, p, body] of calls) {
        const res = await account(method, p, u.jar, body);
        assert.equal(res.status, 400, `${p} ${body}: ${res.text}`);
        assert.deepEqual(res.json(), { error: 'invalid_json', message: 'a key is given more than once in one object' },
            `${p} ${body}`);
    }
    assert.equal((await get('/api/credits', { headers: u.jar.headers() })).json().balance, before, 'nothing charged');
});

test('a password change without one of its fields is 400 invalid_field naming it', async () => {
    const u = await signedInUser('pwfield');
    const cases = [
        [{ newPassword: `${u.user.password}-new` }, 'currentPassword', 'no current password'],
        [{ currentPassword: u.user.password }, 'newPassword', 'no new password'],
        [{ currentPassword: u.user.password, newPassword: null }, 'newPassword', 'a new password null'],
        [{}, 'newPassword', 'neither'],
    ];
    for (const [body, field, what] of cases) {
        const res = await account('POST', '/api/account/password', u.jar, body);
        assert.equal(res.status, 400, `${what}: ${res.text}`);
        assert.equal(res.json().error, 'invalid_field', what);
        assert.equal(res.json().field, field, `${what}: ${res.text}`);
        assert.equal(typeof res.json().message, 'string', what);
    }
    // nothing changed: the old password still signs in
    assert.equal((await signIn(new Jar(), u.user.email, u.user.password)).status, 302);
});

test('a V1 user whose stored hash is of a 100-byte password still signs in with it', async () => {
    const tag = id();
    const password = `v1-${tag}-`.padEnd(100, 'long-password-');
    assert.equal(Buffer.byteLength(password), 100);
    const hash = execFileSync(NANO_TOKEN, ['hash', password], { encoding: 'utf8' }).trim();
    assert.match(hash, /^\$2b\$12\$/, `nano-token hash: ${hash}`);
    const email = `v1-${tag}@example.com`;
    psql(`INSERT INTO "User" ("id", "email", "name", "password")
          VALUES (${lit(`cv1${tag}`)}, ${lit(email)}, ${lit(`V1 ${tag}`)}, ${lit(hash)})`);
    const jar = new Jar();
    const res = await signIn(jar, email, password);
    assert.equal(res.status, 302, res.text);
    assert.ok(jar.get(SESSION_COOKIE), `the 100-byte V1 password signs in: ${res.headers.location}`);
    const me = await get('/qwen/api/me', { headers: jar.headers() });
    assert.equal(me.json().id, `cv1${tag}`);
    // And a wrong one (differing in the first 72 bytes) does not.
    const bad = new Jar();
    await signIn(bad, email, `x${password.slice(1)}`);
    assert.equal(bad.get(SESSION_COOKIE), undefined, 'a different password is refused');
});

test('a wrong password for a V1 account (bcrypt cost 10) takes as long as one for an email nobody registered', async () => {
    // Unknown emails are checked against a cost-12 dummy hash; V1's
    // $2a$10$ hashes took a quarter of that, so sign-in told which V1
    // emails have an account (found by the sec2 probe).
    const tag = id();
    const email = `v1cost-${tag}@example.com`;
    psql(`INSERT INTO "User" ("id", "email", "password")
          VALUES (${lit(`cv1c${tag}`)}, ${lit(email)},
                  '$2a$10$0t.nEYvtQD8o1aW5MFKCZOePbEPWvYYZMzwaOEuDJmZkMPtPEepuC')`);
    const attempt = async (who) => {
        const jar = new Jar();
        const csrfToken = await csrf(jar);
        const t0 = process.hrtime.bigint();
        const res = await request('POST', '/api/auth/callback/credentials', {
            headers: jar.headers(FORM),
            body: form({ csrfToken, email: who, password: 'not-the-password', json: 'true' }),
        });
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        assert.equal(res.status, 401, `${who}: ${res.text}`);
        return ms;
    };
    // the least of three each, alternated: load only adds time
    let v1 = Infinity, nobody = Infinity;
    for (let i = 0; i < 3; i++) {
        v1 = Math.min(v1, await attempt(email));
        nobody = Math.min(nobody, await attempt(`nobody-${tag}-${i}@example.com`));
    }
    assert.ok(v1 > nobody * 0.6, `V1 account ${v1.toFixed(0)} ms, no account ${nobody.toFixed(0)} ms`);
    // the password itself still signs in
    const jar = new Jar();
    await signIn(jar, email, 'password123');
    assert.ok(jar.get(SESSION_COOKIE), 'the V1 password signs in');
});

test('a V1 user whose name or picture holds a control character signs in: the field is left out of the token', async () => {
    // V1 kept names as typed; the gateway and the platform refuse a token
    // with a control character in any identity claim, so that sign-in
    // answered 302 with a cookie nobody accepted: signed in to nothing
    const tag = id();
    const password = `v1-${tag}-long-enough`;
    const hash = execFileSync(NANO_TOKEN, ['hash', password], { encoding: 'utf8' }).trim();
    const email = `v1ctl-${tag}@example.com`;
    const name = `Line\nBreak\u0007 ${tag}`;
    const image = `https://img.example/a\tb-${tag}.png`;
    psql(`INSERT INTO "User" ("id", "email", "name", "image", "password")
          VALUES (${lit(`cv1c${tag}`)}, ${lit(email)}, ${lit(name)}, ${lit(image)}, ${lit(hash)})`);
    const jar = new Jar();
    const res = await signIn(jar, email, password);
    assert.equal(res.status, 302, res.text);
    const token = jar.get(SESSION_COOKIE);
    assert.ok(token, 'a session cookie');
    const c = decodeJwtPayload(token);
    assert.equal(c.sub, `cv1c${tag}`);
    assert.equal(c.email, email);
    assert.equal(c.name, undefined, 'the name is left out');
    assert.equal(c.picture, undefined, 'the picture is left out');
    // every reader takes the cookie: the platform's session and the gateway
    const s = await get('/api/auth/session', { headers: jar.headers() });
    assert.equal(s.status, 200);
    assert.deepEqual(s.json().user, { name, email, image }, 'the session answer says what the row holds');
    const dash = await get('/api/dashboard', { headers: jar.headers() });
    assert.equal(dash.status, 200, `the gateway lets it through: ${dash.text.slice(0, 200)}`);
    if (MODULES.includes('qwen')) {
        const me = await get('/qwen/api/me', { headers: jar.headers() });
        assert.equal(me.status, 200, me.text);
        assert.equal(me.json().id, `cv1c${tag}`);
    }
});

test('a V1 user with a picture of a whole image (a data: URL) or a very long name signs in: those fields are left out of the token', async () => {
    // the readers look at 8192 bytes of a token at most: a 12 KB picture
    // in it made a cookie nobody accepted
    const tag = id();
    const password = `v1-${tag}-long-enough`;
    const hash = execFileSync(NANO_TOKEN, ['hash', password], { encoding: 'utf8' }).trim();
    const email = `v1big-${tag}@example.com`;
    const image = `data:image/png;base64,${crypto.randomBytes(9000).toString('base64')}`;
    const name = `Long ${tag} `.padEnd(3000, 'name ');
    psql(`INSERT INTO "User" ("id", "email", "name", "image", "password")
          VALUES (${lit(`cv1b${tag}`)}, ${lit(email)}, ${lit(name)}, ${lit(image)}, ${lit(hash)})`);
    const jar = new Jar();
    const res = await signIn(jar, email, password);
    assert.equal(res.status, 302, res.text);
    const token = jar.get(SESSION_COOKIE);
    assert.ok(token, 'one session cookie, not chunks');
    const c = decodeJwtPayload(token);
    assert.equal(c.sub, `cv1b${tag}`);
    assert.equal(c.email, email);
    assert.equal(c.name, undefined, 'the 3000-byte name is left out');
    assert.equal(c.picture, undefined, 'the 12 KB picture is left out');
    const s = await get('/api/auth/session', { headers: jar.headers() });
    assert.equal(s.json().user.email, email, `the session is live: ${s.text.slice(0, 100)}`);
    const dash = await get('/api/dashboard', { headers: jar.headers() });
    assert.equal(dash.status, 200, `the gateway lets it through: ${dash.text.slice(0, 200)}`);

    // a name of 100 four-byte characters and a 2048-byte URL still go in
    const full = '🍌'.repeat(100);
    const url = `https://img.example/${tag}/`.padEnd(2048, 'p');
    psql(`UPDATE "User" SET "name" = ${lit(full)}, "image" = ${lit(url)} WHERE "id" = ${lit(`cv1b${tag}`)}`);
    const again = new Jar();
    await signIn(again, email, password);
    const c2 = decodeJwtPayload(again.get(SESSION_COOKIE));
    assert.equal(c2.name, full);
    assert.equal(c2.picture, url);
    assert.equal((await get('/api/dashboard', { headers: again.headers() })).status, 200);
});

// --- the platform's socket, directly ------------------------------------------

// A request to the platform as nginx would send it, with overrides.
function platform({ method = 'GET', path: p, body, contentLength, contentType = '', cookies = [],
    authOrigin = ORIGIN, origin } = {}) {
    const b = body === undefined ? undefined : Buffer.from(body);
    return fcgiRequest(PLATFORM_SOCK, {
        params: nginxParams({
            method, path: p, contentType, port: PORT, origin,
            contentLength: contentLength ?? (b ? b.length : ''),
            authOrigin: authOrigin === null ? undefined : authOrigin,
            extra: cookies.map((c) => ['HTTP_COOKIE', c]),
        }),
        body: b,
    });
}

// A valid sign-up as JSON padded with spaces to exactly n bytes.
function signupBody(n) {
    const json = JSON.stringify({ email: `fcgi-${id()}@example.com`, password: 'pw-long-enough' });
    assert.ok(json.length <= n);
    return json + ' '.repeat(n - json.length);
}

test('FastCGI: a body shorter or longer than CONTENT_LENGTH is a 400; the exact length is served', async () => {
    const post = (body, contentLength) => platform({
        method: 'POST', path: '/api/register', contentType: 'application/json', origin: ORIGIN, body, contentLength,
    });
    let res = await post(signupBody(100), 200);
    assert.equal(res.status, 400, `CONTENT_LENGTH 200 with 100 bytes: ${res.status} ${res.text.slice(0, 200)}`);
    res = await post(signupBody(100), 20);
    assert.equal(res.status, 400, `CONTENT_LENGTH 20 with 100 bytes: ${res.status} ${res.text.slice(0, 200)}`);
    res = await post(signupBody(100), 101);
    assert.equal(res.status, 400, `CONTENT_LENGTH 101 with 100 bytes: ${res.status} ${res.text.slice(0, 200)}`);
    // No body at all for a CONTENT_LENGTH of 50 (sign-out would otherwise
    // answer its csrf=true redirect).
    res = await platform({
        method: 'POST', path: '/api/auth/signout', contentType: 'application/x-www-form-urlencoded',
        origin: ORIGIN, body: '', contentLength: 50,
    });
    assert.equal(res.status, 400, `CONTENT_LENGTH 50 with no body: ${res.status} ${res.text.slice(0, 200)}`);
    // The same body with its true length: a valid sign-up, created.
    res = await post(signupBody(100), 100);
    assert.equal(res.status, 201, `CONTENT_LENGTH 100 with 100 bytes: ${res.status} ${res.text.slice(0, 200)}`);
});

test('FastCGI: two HTTP_COOKIE params are one header; the same name twice with different values is no session', async () => {
    const a = await signedInUser('fcgi-cookie-a');
    const b = await signedInUser('fcgi-cookie-b');
    const ta = a.jar.get(SESSION_COOKIE);
    const tb = b.jar.get(SESSION_COOKIE);

    let res = await platform({ path: '/api/auth/session', cookies: ['theme=dark', `${SESSION_COOKIE}=${ta}`] });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().user?.email, a.user.email, `the session cookie in the second HTTP_COOKIE: ${res.text}`);

    res = await platform({ path: '/api/auth/session', cookies: [`${SESSION_COOKIE}=${ta}`, `x=1; ${SESSION_COOKIE}=${ta}`] });
    assert.equal(res.json().user?.email, a.user.email, `the same name twice with the same value is fine: ${res.text}`);

    for (const cookies of [
        [`${SESSION_COOKIE}=${ta}`, `${SESSION_COOKIE}=${tb}`],
        [`${SESSION_COOKIE}=${tb}`, `${SESSION_COOKIE}=${ta}`],
        [`${SESSION_COOKIE}=${ta}; ${SESSION_COOKIE}=${tb}`],
    ]) {
        res = await platform({ path: '/api/auth/session', cookies });
        assert.equal(res.status, 200);
        assert.deepEqual(res.json(), {}, `two different session cookies (${cookies.length} params) are a conflict: ${res.text.slice(0, 200)}`);
        assert.ok(clearsSession(res), `a conflict clears the cookie: ${res.setCookies.join(' | ')}`);
    }
});

test('FastCGI: without NANO_AUTH_ORIGIN, or with another origin, the platform answers 500 misconfigured', async () => {
    const ok = await platform({ path: '/api/auth/csrf' });
    assert.equal(ok.status, 200, `control, with the stack's origin: ${ok.status} ${ok.text.slice(0, 200)}`);
    const others = [
        ['missing', null],
        ['another origin', 'https://app.example.com'],
        ['https instead of http', ORIGIN.replace(/^http:/, 'https:')],
        ['empty', ''],
    ];
    for (const [what, authOrigin] of others) {
        for (const p of ['/api/auth/csrf', '/api/auth/session']) {
            const res = await platform({ path: p, authOrigin });
            assert.equal(res.status, 500, `${p}, NANO_AUTH_ORIGIN ${what}: ${res.status} ${res.text.slice(0, 200)}`);
            assert.equal(res.json().error, 'misconfigured', `${p}, NANO_AUTH_ORIGIN ${what}`);
        }
    }
});

// --- through nginx: two Cookie lines ------------------------------------------

// A raw HTTP/1.0 request (header lines exactly as given); -> {status, headers, body}.
function rawHttp(lines) {
    const u = new URL(BASE);
    return new Promise((resolve, reject) => {
        const s = net.connect(Number(u.port || 80), u.hostname);
        const chunks = [];
        s.setTimeout(10000, () => s.destroy(new Error('raw request timed out')));
        s.on('connect', () => s.write(`${lines.join('\r\n')}\r\n\r\n`));
        s.on('data', (d) => chunks.push(d));
        s.on('error', reject);
        s.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const i = text.indexOf('\r\n\r\n');
            const head = text.slice(0, i).split('\r\n');
            const headers = {};
            for (const h of head.slice(1)) {
                const c = h.indexOf(':');
                headers[h.slice(0, c).trim().toLowerCase()] = h.slice(c + 1).trim();
            }
            resolve({ status: Number(head[0].split(' ')[1]), headers, body: text.slice(i + 4) });
        });
    });
}

test('a body under a Content-Encoding: 415 naming it, before anything is charged or changed; identity is none', async () => {
    const { jar, user } = await signedInUser('coding');
    const balance = async () => (await get('/api/credits', { headers: jar.headers() })).json().balance;
    const before = await balance();
    const json = JSON.stringify({ prompt: 'a compressed question' });
    // a plain body under a coding was read as if none were named (and
    // charged); a compressed one was "invalid_json", which names no cause
    const cases = [
        ['gzip over a plain body', 'gzip', json],
        ['gzip over a gzipped body', 'gzip', zlib.gzipSync(json)],
        ['deflate, any case', 'Deflate', zlib.deflateSync(json)],
        ['br', 'br', json],
        ['identity, then gzip', 'identity, gzip', zlib.gzipSync(json)],
    ];
    for (const [what, coding, body] of cases) {
        for (const p of ['/qwen/api/generate', '/nano-banana/api/generate']) {
            const res = await request('POST', p, {
                headers: jar.headers({ 'Content-Type': 'application/json', 'Content-Encoding': coding, Origin: ORIGIN }),
                body,
            });
            assert.equal(res.status, 415, `${p}, ${what}: ${res.status} ${res.text.slice(0, 200)}`);
            assert.equal(res.json().error, 'unsupported_media_type', `${p}, ${what}`);
            assert.match(res.json().message, /Content-Encoding/, `${p}, ${what}`);
        }
    }
    const prof = await request('POST', '/api/account/profile', {
        headers: jar.headers({ ...FORM, 'Content-Encoding': 'gzip' }),
        body: form({ name: 'Zipped Name' }),
    });
    assert.equal(prof.status, 415, `the platform: ${prof.status} ${prof.text.slice(0, 200)}`);
    const session = (await get('/api/auth/session', { headers: jar.headers() })).json();
    assert.equal(session.user.name, user.name, 'the name is unchanged');
    assert.equal(await balance(), before, 'nothing was charged');

    // identity names no coding; no body at all is nothing to decode
    const ok = await request('POST', '/qwen/api/generate', {
        headers: jar.headers({ 'Content-Type': 'application/json', 'Content-Encoding': 'identity', Origin: ORIGIN }),
        body: json,
    });
    assert.equal(ok.status, 200, ok.text.slice(0, 200));
    const gone = await request('DELETE', `/qwen/api/generations/${ok.json().id}`, {
        headers: jar.headers({ 'Content-Encoding': 'gzip', Origin: ORIGIN }),
    });
    assert.equal(gone.status, 200, gone.text.slice(0, 200));
});

test('two Cookie: lines through nginx: the platform and the gateway both see the session in the second', async () => {
    const { user, jar, me } = await signedInUser('two-lines');
    const token = jar.get(SESSION_COOKIE);
    const host = `Host: ${new URL(BASE).host}`;
    const lines = (p) => [`GET ${p} HTTP/1.0`, host, 'Cookie: theme=dark', `Cookie: ${SESSION_COOKIE}=${token}`];

    const mod = await rawHttp(lines('/qwen/api/me'));
    assert.equal(mod.status, 200, `the gateway: ${mod.status} ${mod.body.slice(0, 200)}`);
    assert.equal(JSON.parse(mod.body).id, me.id);

    const s = await rawHttp(lines('/api/auth/session'));
    assert.equal(s.status, 200, s.body);
    assert.equal(JSON.parse(s.body).user?.email, user.email, `the platform: ${s.body.slice(0, 200)}`);
});

test('nginx\'s own refusals: JSON with their code under /api/ and /<m>/api/ (also when nginx cannot parse the URI), a page elsewhere', async () => {
    const host = `Host: ${new URL(BASE).host}`;
    const cases = [
        ['TRACE on an API path', ['TRACE /api/credits HTTP/1.0', host],
            405, 'method_not_allowed'],
        ['two Host lines', ['GET /openai/api/models HTTP/1.0', host, host],
            400, 'bad_request'],
        ['a 40 kB cookie', ['GET /api/credits HTTP/1.0', host, `Cookie: a=${'x'.repeat(40000)}`],
            400, 'request_header_too_large'],
        ['a transfer encoding nginx has not', ['POST /qwen/api/generate HTTP/1.1', host,
            'Transfer-Encoding: gzip', 'Connection: close'], 501, 'not_implemented'],
        ['TRACE on a page', ['TRACE /qwen/ HTTP/1.0', host], 405, null],
        ['a range past a file\'s end', ['GET /ui/ui.css HTTP/1.0', host, 'Range: bytes=99999999-'],
            416, null],
        ['a URI nginx cannot parse, on an API path', ['GET /qwen/api/generations/%zz HTTP/1.0', host],
            400, 'bad_request'],
        ['a URI nginx cannot parse, on the platform\'s API', ['GET /api/credits% HTTP/1.0', host],
            400, 'bad_request'],
        ['a dot-dot above the root', ['GET /api/../../x HTTP/1.0', host], 400, 'bad_request'],
        ['no such file', ['GET /ui/no-such-file.css HTTP/1.0', host], 404, null],
        ['the internal media location from outside', ['GET /_nano_media/x HTTP/1.0', host], 404, null],
        // these two were nginx's own bare page, in HTML on API paths too
        ['an HTTP version nginx does not speak, on an API path', ['GET /qwen/api/me HTTP/2.0', host],
            505, 'http_version_not_supported'],
        ['an HTTP version nginx does not speak, on a page', ['GET /qwen/ HTTP/3.0', host], 505, null],
        ['a file that no longer matches If-Match', ['GET /ui/ui.css HTTP/1.0', host, 'If-Match: "old"'],
            412, null],
        // nginx's bare 403 "directory index is forbidden"
        ['the /ui/ folder', ['GET /ui/ HTTP/1.0', host], 404, null],
        ['a folder under /ui/', ['GET /ui/templates/ HTTP/1.0', host], 404, null],
        // the repository's files, not the site's: they were served
        ['the scaffold\'s template', ['GET /ui/templates/text.html HTTP/1.0', host], 404, null],
        ['the folder\'s README', ['GET /ui/README.md HTTP/1.0', host], 404, null],
    ];
    for (const [what, lines, status, error] of cases) {
        const res = await rawHttp(lines);
        assert.equal(res.status, status, `${what}: ${res.status} ${res.body.slice(0, 200)}`);
        assert.equal(res.headers['cache-control'], 'no-store', what);
        if (error === null) {
            assert.match(res.headers['content-type'], /^text\/html/, what);
            assert.match(res.body, status === 404 ? /<h1>Nothing is here<\/h1>/ : /<h1>This request was refused<\/h1>/, what);
            continue;
        }
        assert.match(res.headers['content-type'], /^application\/json/, what);
        const body = JSON.parse(res.body);
        assert.equal(body.error, error, what);
        assert.ok(body.message.length > 0, what);
    }
});

// An API client that joins a base URL ending in "/" with a path starting
// with one asks for /qwen//api/generate; nginx routes that as
// /qwen/api/generate, but its own refusals chose their format from the
// path as written, and came as HTML pages (a 413 also named the wrong
// limit) until 2026-12-07 (found by the contract probe).
test('nginx\'s own refusals on an API path written with doubled slashes are JSON as well', async () => {
    const host = `Host: ${new URL(BASE).host}`;
    const cases = [
        ['TRACE, a module\'s API', ['TRACE /qwen//api/generate HTTP/1.0', host], 405, 'method_not_allowed'],
        ['TRACE, the platform\'s API', ['TRACE //api/credits HTTP/1.0', host], 405, 'method_not_allowed'],
        ['a URI nginx cannot parse', ['GET //qwen//api/generations/%zz HTTP/1.0', host], 400, 'bad_request'],
        ['a body over the limit', ['POST /nano-banana//api/generate HTTP/1.0', host,
            'Content-Type: application/json', 'Content-Length: 20000000'], 413, 'payload_too_large'],
    ];
    for (const [what, lines, status, error] of cases) {
        const res = await rawHttp(lines);
        assert.equal(res.status, status, `${what}: ${res.status} ${res.body.slice(0, 200)}`);
        assert.match(res.headers['content-type'], /^application\/json/, `${what}: ${res.body.slice(0, 200)}`);
        const body = JSON.parse(res.body);
        assert.equal(body.error, error, what);
        assert.ok(body.message.length > 0, what);
        if (status === 413) assert.match(body.message, /10 MiB with an image upload/, `${what}: the route's limit`);
    }
    // a page stays a page
    const page = await rawHttp(['TRACE //qwen//x HTTP/1.0', host]);
    assert.equal(page.status, 405);
    assert.match(page.headers['content-type'], /^text\/html/);
});

test('nginx\'s own refusals on an API path written percent-encoded are JSON as well', async () => {
    // nginx decodes the path before it routes it: /nano-banana/%61pi/generate
    // is the generate route, %2F a slash (these came as pages until the
    // apiedges probe)
    const host = `Host: ${new URL(BASE).host}`;
    const cases = [
        ['TRACE, a module\'s API, "api" encoded', ['TRACE /qwen/%61pi/generate HTTP/1.0', host], 405, 'method_not_allowed'],
        ['TRACE, the platform\'s API, "api" encoded', ['TRACE /%61%70%69/credits HTTP/1.0', host], 405, 'method_not_allowed'],
        ['TRACE, an encoded slash', ['TRACE /qwen%2Fapi/generate HTTP/1.0', host], 405, 'method_not_allowed'],
        ['a URI nginx cannot parse', ['GET /qwen/%61pi/generations/%zz HTTP/1.0', host], 400, 'bad_request'],
        ['a body over the limit', ['POST /nano-banana/%61pi/generate HTTP/1.0', host,
            'Content-Type: application/json', 'Content-Length: 20000000'], 413, 'payload_too_large', /10 MiB with an image upload/],
        ['a picture over the limit', ['POST /api/account/%61vatar HTTP/1.0', host,
            'Content-Type: application/json', 'Content-Length: 20000000'], 413, 'payload_too_large', /5 MiB for a picture/],
    ];
    for (const [what, lines, status, error, limit] of cases) {
        const res = await rawHttp(lines);
        assert.equal(res.status, status, `${what}: ${res.status} ${res.body.slice(0, 200)}`);
        assert.match(res.headers['content-type'], /^application\/json/, `${what}: ${res.body.slice(0, 200)}`);
        const body = JSON.parse(res.body);
        assert.equal(body.error, error, what);
        assert.ok(body.message.length > 0, what);
        if (limit) assert.match(body.message, limit, `${what}: the route's limit`);
    }
    // a page stays a page, and a /ui/ file's 405 names its methods
    const page = await rawHttp(['TRACE /qwen/%61pix HTTP/1.0', host]);
    assert.equal(page.status, 405);
    assert.match(page.headers['content-type'], /^text\/html/);
    const ui = await rawHttp(['POST /%75i/ui.css HTTP/1.0', host, 'Content-Length: 0']);
    assert.equal(ui.status, 405);
    assert.equal(ui.headers.allow, 'GET, HEAD');
});

test('nginx\'s own 405 on a /ui/ file names what it takes in Allow (GET, HEAD), as the backends\' 405s do', async () => {
    const host = `Host: ${new URL(BASE).host}`;
    for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
        const res = await rawHttp([`${m} /ui/ui.css HTTP/1.0`, host]);
        assert.equal(res.status, 405, `${m}: ${res.status} ${res.body.slice(0, 200)}`);
        assert.equal(res.headers.allow, 'GET, HEAD', `${m} /ui/ui.css: Allow`);
    }
    // TRACE elsewhere: nginx cannot know a backend's methods, so no Allow
    // that would be wrong (a page takes GET, /api/generate POST)
    const trace = await rawHttp(['TRACE /qwen/api/generate HTTP/1.0', host]);
    assert.equal(trace.status, 405);
    assert.equal(trace.headers.allow, undefined);
    const file = await rawHttp(['GET /ui/ui.css HTTP/1.0', host]);
    assert.equal(file.status, 200);
    assert.equal(file.headers.allow, undefined, 'no Allow on the file itself');
});

// The pages link /ui/ files without a version; "expires 1h" let browsers
// run an upgrade's pages on the old scripts for up to an hour.
test('/ui/ files are kept by browsers but revalidated each time (no-cache, 304 on the ETag)', async () => {
    for (const f of ['/ui/ui.css', '/ui/module.js', '/ui/logo.svg']) {
        const res = await request('GET', f);
        assert.equal(res.status, 200, f);
        assert.equal(res.headers['cache-control'], 'no-cache', `${f}: Cache-Control`);
        assert.ok(res.headers.etag, `${f}: an ETag`);
        const again = await request('GET', f, { headers: { 'If-None-Match': res.headers.etag } });
        assert.equal(again.status, 304, `${f}: revalidated`);
    }
});

test('/api/auth/callback without a provider: the platform\'s 404 JSON, not nginx\'s 301 to /api/auth/callback/', async () => {
    for (const m of ['GET', 'POST']) {
        const res = await request(m, '/api/auth/callback?x=1', { headers: { Origin: ORIGIN } });
        assert.equal(res.status, 404, `${m}: ${res.status} ${res.headers.location || ''}`);
        assert.equal(res.headers.location, undefined, m);
        assert.equal(res.json().error, 'not_found', m);
    }
});

test('a path no backend route serves: a page with the shared header for a browser, JSON for scripts and API paths', async () => {
    const { jar, user } = await signedInUser('notfound');
    const page = { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    // the platform's and a module's router (nginx passes both paths on)
    for (const p of ['/nope', '/qwen/nope', '/qwen/a/b']) {
        const res = await get(p, { headers: jar.headers(page) });
        assert.equal(res.status, 404, p);
        assert.match(res.headers['content-type'], /^text\/html/, p);
        assert.match(res.text, /<h1>Nothing is here<\/h1>/, p);
        assert.ok(res.text.includes(user.name) && res.text.includes('href="/qwen"'), `${p}: the header, signed in`);
        const anon = await get(p, { headers: page });
        if (anon.status === 404) {
            assert.match(anon.text, /<h1>Nothing is here<\/h1>/, p);
            assert.ok(!anon.text.includes(user.name), p);
        }
        // a navigation is a person's browser whatever its Accept (it got
        // JSON, where the sign-in's cross-site refusal gave a page)
        const nav = await get(p, { headers: jar.headers({ Accept: '*/*', 'Sec-Fetch-Mode': 'navigate' }) });
        assert.equal(nav.status, 404, p);
        assert.match(nav.text, /<h1>Nothing is here<\/h1>/, `${p}: a navigation`);
        // a script (fetch's */*) and anything under api/ keep the JSON
        for (const [q, h] of [[p, {}], [p.replace(/^(\/qwen)?/, '$1/api'), page]]) {
            const r = await get(q, { headers: jar.headers(h) });
            assert.equal(r.status, 404, q);
            assert.equal(r.json().error, 'not_found', q);
        }
    }
    const post = await request('POST', '/qwen/nope', { headers: jar.headers({ ...page, Origin: ORIGIN }) });
    assert.equal(post.status, 404);
    assert.equal(post.json().error, 'not_found', 'not a page load: JSON');
});

// --- a backend on an inherited socket ---------------------------------------------

test('a backend stopped with SIGTERM leaves its inherited listening socket (fd 0) listening', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-fd0-'));
    const bound = path.join(dir, 'bound.sock');
    const sock = path.join(dir, 'qwen.sock');
    const flag = path.join(dir, 'start-second');
    const keys = path.join(dir, 'keys');
    fs.writeFileSync(keys, `nano-fd0-test-key-0123456789abcdefghijklmn\n`, { mode: 0o600 });
    const env = { PATH: process.env.PATH, NEXTAUTH_URL: ORIGIN, NANO_ROOT: ROOT, NANO_SECRET_FILE: keys };
    const kids = [];
    const run = (cmd, args, fd) => {
        const c = spawn(cmd, args, { stdio: [fd, 'ignore', 'pipe'], env });
        c.log = '';
        c.stderr.setEncoding('utf8');
        c.stderr.on('data', (d) => { c.log += d; });
        c.exited = new Promise((r) => c.on('close', (code, signal) => r({ code, signal })));
        kids.push(c);
        return c;
    };
    const ask = () => fcgiRequest(sock, {
        params: nginxParams({
            scriptName: '/qwen', path: '/api/me', authOrigin: ORIGIN,
            user: { id: 'fd0-user', email: 'fd0@example.com', name: 'Fd Zero' },
        }),
        timeout: 3000,
    });
    const connects = () => new Promise((resolve) => {
        const s = net.connect(sock);
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', (e) => resolve(e.code));
    });

    // The listening socket, made here as spawn-fcgi or systemd would.
    const server = net.createServer();
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(bound, resolve);
    });
    const fd = server._handle?.fd;
    assert.ok(Number.isInteger(fd) && fd >= 0, 'the listening socket\'s fd');
    try {
        // A holder keeps a copy of the socket without accepting on it, and
        // execs a second nano-qwen on it when the flag file appears.
        run('/bin/sh', ['-c', 'while [ ! -e "$1" ]; do sleep 0.05; done; exec "$2"', 'holder', flag, QWEN], fd);
        const first = run(QWEN, [], fd);
        // node unlinks the path it bound when it closes: keep the socket
        // under another name, then drop our copy.
        fs.renameSync(bound, sock);
        await new Promise((r) => server.close(r));

        const res = await retry(async () => (await ask()).status === 200, 5000, 50);
        assert.ok(res, `the first nano-qwen serves on the inherited socket: ${first.log}`);

        first.kill('SIGTERM');
        let timer;
        const end = await Promise.race([first.exited, new Promise((r) => { timer = setTimeout(() => r(null), 5000); })]);
        clearTimeout(timer);
        assert.ok(end, 'the first nano-qwen stops on SIGTERM');
        assert.equal(end.code, 0, first.log);

        const c = await connects();
        assert.equal(c, true, `the shared socket still accepts connections after the backend stopped (got ${c})`);

        fs.writeFileSync(flag, '');
        const second = await retry(async () => {
            const r = await ask();
            return r.status === 200 ? r : null;
        }, 5000, 50);
        assert.ok(second, `a second nano-qwen on the same socket answers: ${kids[0].log}`);
        assert.deepEqual(second.json(), { id: 'fd0-user', email: 'fd0@example.com', name: 'Fd Zero', module: 'qwen' });
    } finally {
        for (const k of kids) {
            if (k.exitCode === null && k.signalCode === null) k.kill('SIGKILL');
        }
        await Promise.all(kids.map((k) => k.exited));
        if (server.listening) server.close();
        fs.rmSync(dir, { recursive: true, force: true });
        t.diagnostic('the backends of this test are stopped');
    }
});
