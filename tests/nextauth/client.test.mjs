// NextAuth v4's own client, next-auth/react, against the platform
// (issue 5, docs/SESSIONS.md "NextAuth v4 client"): its real functions
// getCsrfToken, getProviders, signIn('credentials', {redirect: false}),
// getSession and signOut, and what useSession().update() sends (through
// next-auth's own fetchData), over a fetch that keeps cookies as a
// browser would.  Then the endpoints the client and its pages reach that
// are no function of its own: the callback-url cookie at sign-out, a JSON
// credentials body, /api/auth/signin/credentials, /api/auth/_log.
//
// Run by scripts/test.sh against the test stack (NANO_TEST_BASE), with
// next-auth installed by `npm ci --prefix tests/nextauth`, or alone:
//   NANO_TEST_BASE=http://127.0.0.1:18080 node --test tests/nextauth/
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';

const BASE = (process.env.NANO_TEST_BASE || 'http://127.0.0.1:18080').replace(/\/$/, '');
const ORIGIN = new URL(BASE).origin;
// NextAuth's names: __Secure-/__Host- prefixed on an https deployment
// (NANO_TEST_BASE=https://... against a stack behind TLS)
const HTTPS = ORIGIN.startsWith('https:');
const SESSION_COOKIE = `${HTTPS ? '__Secure-' : ''}next-auth.session-token`;
const CSRF_COOKIE = `${HTTPS ? '__Host-' : ''}next-auth.csrf-token`;
const CALLBACK_COOKIE = `${HTTPS ? '__Secure-' : ''}next-auth.callback-url`;
const REVOKE_WITHIN = 2000;   // ms

// next-auth/react reads NEXTAUTH_URL when it is loaded (below).
process.env.NEXTAUTH_URL = BASE;

// --- a cookie jar under fetch ---------------------------------------------------

class Jar {
    constructor() { this.cookies = new Map(); }
    store(lines) {
        for (const line of lines) {
            const [pair, ...attrs] = line.split(';');
            const eq = pair.indexOf('=');
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            const a = Object.fromEntries(attrs.map((x) => {
                const i = x.indexOf('=');
                return i < 0 ? [x.trim().toLowerCase(), true] : [x.slice(0, i).trim().toLowerCase(), x.slice(i + 1).trim()];
            }));
            const gone = value === '' || (a['max-age'] !== undefined && Number(a['max-age']) <= 0)
                || (a.expires && Date.parse(a.expires) <= Date.now());
            if (gone) this.cookies.delete(name);
            else this.cookies.set(name, value);
        }
    }
    get(name) { return this.cookies.get(name); }
    set(name, value) { this.cookies.set(name, value); }
    header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
    copy() {
        const j = new Jar();
        for (const [k, v] of this.cookies) j.set(k, v);
        return j;
    }
}

// A response's Set-Cookie lines.  Node 18's fetch (Debian 12's) has no
// Headers.getSetCookie and joins the lines with ", "; a comma inside a
// line (Expires=Thu, 01 Jan ...) is never followed by "name=".
function setCookies(headers) {
    if (typeof headers.getSetCookie === 'function') return headers.getSetCookie();
    const joined = headers.get('set-cookie');
    return joined ? joined.split(/,\s*(?=[!#$%&'*+.^_`|~0-9A-Za-z-]+=)/) : [];
}

// The browser next-auth thinks it runs in: one jar, and (for the rate
// limit test) the header the test stack's nginx keys its limits on.
let jar = new Jar();
let testClient = null;
let lastSetCookies = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const headers = new Headers(init.headers || {});
    const ours = url.origin === ORIGIN;
    if (ours) {
        const c = jar.header();
        if (c) headers.set('Cookie', c);
        if (testClient) headers.set('X-Nano-Test-Client', testClient);
    }
    const res = await realFetch(input, { ...init, headers });
    if (ours) {
        lastSetCookies = setCookies(res.headers);
        jar.store(lastSetCookies);
    }
    return res;
};

const react = await import('next-auth/react');
const { getCsrfToken, getProviders, getSession, signIn, signOut } = react.default ?? react;
const utils = await import('next-auth/client/_utils');
const { fetchData } = utils.default ?? utils;

afterEach(() => {
    jar = new Jar();
    testClient = null;
});

// --- helpers ----------------------------------------------------------------------

function newUser(tag) {
    const id = crypto.randomBytes(5).toString('hex');
    return { email: `na-${tag}-${id}@example.com`, name: `NextAuth ${tag} ${id}`, password: `pw-${id}-long-enough` };
}

async function registered(tag) {
    const user = newUser(tag);
    const res = await realFetch(`${BASE}/api/register`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', Origin: ORIGIN }, body: JSON.stringify(user),
    });
    assert.equal(res.status, 201, `register: ${await res.text()}`);
    return user;
}

// A raw request with the current jar (cookies stored), no redirects followed.
async function raw(path, { method = 'GET', headers = {}, body } = {}) {
    const res = await fetch(`${BASE}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    let json;
    try {
        json = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, text, json, setCookies: lastSetCookies };
}

async function signedIn(tag, callbackUrl = `${BASE}/qwen/`) {
    const user = await registered(tag);
    const r = await signIn('credentials', { redirect: false, email: user.email, password: user.password, callbackUrl });
    assert.equal(r?.ok, true, `signIn: ${JSON.stringify(r)}`);
    assert.ok(jar.get(SESSION_COOKIE), 'a session cookie after signIn()');
    return user;
}

const moduleStatus = async (j) => (await realFetch(`${BASE}/qwen/api/me`, { headers: { Cookie: j.header() } })).status;

// --- the client's own functions ------------------------------------------------------

test('getCsrfToken() and getProviders()', async () => {
    const token = await getCsrfToken();
    assert.match(token, /^[0-9a-f]{32,}$/, `csrf token ${token}`);
    assert.ok(jar.get(CSRF_COOKIE), 'the double-submit cookie is kept');
    const providers = await getProviders();
    assert.equal(providers?.credentials?.type, 'credentials', JSON.stringify(providers));
    assert.equal(providers.credentials.signinUrl, `${ORIGIN}/api/auth/signin/credentials`);
    assert.equal(providers.credentials.callbackUrl, `${ORIGIN}/api/auth/callback/credentials`);
});

test('signIn("credentials", {redirect: false}) then getSession() shows the user', async () => {
    const user = await registered('signin');
    const r = await signIn('credentials', {
        redirect: false, email: user.email, password: user.password, callbackUrl: `${BASE}/qwen/`,
    });
    assert.deepEqual(r, { error: null, status: 200, ok: true, url: `${ORIGIN}/qwen/` });
    assert.ok(jar.get(SESSION_COOKIE), 'the session cookie is set');
    const s = await getSession();
    assert.equal(s?.user?.email, user.email, `getSession(): ${JSON.stringify(s)}`);
    assert.equal(s.user.name, user.name);
    assert.ok(!Number.isNaN(Date.parse(s.expires)), `expires ${s.expires}`);
});

test('signIn() with a wrong password: {error: "CredentialsSignin", status: 401, ok: false}', async () => {
    const user = await registered('wrong');
    const r = await signIn('credentials', {
        redirect: false, email: user.email, password: `${user.password}-wrong`, callbackUrl: `${BASE}/`,
    });
    assert.deepEqual(r, { error: 'CredentialsSignin', status: 401, ok: false, url: null });
    assert.equal(jar.get(SESSION_COOKIE), undefined, 'no session');
    assert.equal(await getSession(), null);
});

test('signIn() past the rate limit: {error: "RateLimited", status: 429, ok: false}', async () => {
    testClient = `na-${crypto.randomBytes(6).toString('hex')}`;
    let r;
    let n = 0;
    while (n < 25) {
        n++;
        r = await signIn('credentials', {
            redirect: false, email: `na-nobody-${n}-${testClient}@example.com`, password: 'wrong-password-1', callbackUrl: `${BASE}/`,
        });
        if (r?.status === 429) break;
        assert.deepEqual(r, { error: 'CredentialsSignin', status: 401, ok: false, url: null }, `attempt ${n}`);
    }
    assert.deepEqual(r, { error: 'RateLimited', status: 429, ok: false, url: null }, `after ${n} attempts of one client`);
});

// signIn() reads the answer's url with new URL(data.url): an answer
// without one threw "TypeError: Invalid URL" out of signIn() while the
// database was out of reach (503 {"error","message"}), where NextAuth,
// whose authorize() threw, answers 401 {url: .../error?error=...}.
test('signIn() while the database is down: {error: "ServiceUnavailable", status: 503}, not a throw', async (t) => {
    const STACKCTL = process.env.NANO_TEST_STACKCTL;
    if (!STACKCTL) {
        t.skip('NANO_TEST_STACKCTL is not set (run through make test)');
        return;
    }
    const stackctl = (what) => execFileSync(STACKCTL, [what], { stdio: 'ignore', timeout: 60000 });
    const user = await registered('dbdown');
    await getCsrfToken();
    stackctl('stop-db');
    let r;
    let page;
    try {
        r = await signIn('credentials', {
            redirect: false, email: user.email, password: user.password, callbackUrl: `${BASE}/qwen/`,
        }).catch((e) => ({ threw: String(e) }));
        // the sign-in page's own form post: that page again, saying why
        page = await raw('/api/auth/callback/credentials', {
            method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'text/html' },
            body: new URLSearchParams({ csrfToken: await getCsrfToken(), email: user.email, password: user.password }),
        });
    } finally {
        stackctl('start-db');
    }
    assert.deepEqual(r, { error: 'ServiceUnavailable', status: 503, ok: false, url: null });
    assert.equal(jar.get(SESSION_COOKIE), undefined, 'no session');
    assert.equal(page.status, 503, page.text.slice(0, 200));
    assert.match(page.headers.get('content-type') || '', /^text\/html/);
    assert.match(page.text, /<form[^>]*action="[^"]*\/api\/auth\/callback\/credentials"/i);
    assert.match(page.text, /unavailable/i);

    // and the error page the url names leads back to the sign-in page
    const err = await raw('/api/auth/error?error=ServiceUnavailable');
    assert.equal(err.status, 302);
    assert.equal(new URL(err.headers.get('location'), BASE).href, `${ORIGIN}/api/auth/signin?error=ServiceUnavailable`);

    // back up: the same client signs in (and the tests after this one run)
    const t0 = Date.now();
    do {
        r = await signIn('credentials', {
            redirect: false, email: user.email, password: user.password, callbackUrl: `${BASE}/qwen/`,
        }).catch((e) => ({ threw: String(e) }));
        if (r?.ok) break;
        await new Promise((res) => setTimeout(res, 250));
    } while (Date.now() - t0 < 15000);
    assert.deepEqual(r, { error: null, status: 200, ok: true, url: `${ORIGIN}/qwen/` }, 'after the database is back');
});

test('update() (POST /api/auth/session with {csrfToken, data}) answers the session and re-issues the cookie', async () => {
    const user = await signedIn('update');
    const before = jar.get(SESSION_COOKIE);
    // A new cookie value needs a new iat: wait for the next second.
    const { iat } = JSON.parse(Buffer.from(before.split('.')[1], 'base64url').toString());
    while (Math.floor(Date.now() / 1000) <= iat) await new Promise((r) => setTimeout(r, 50));

    // Exactly what useSession().update(data) does (next-auth/react,
    // SessionProvider): fetchData("session", __NEXTAUTH, logger,
    // {req: {body: {csrfToken: await getCsrfToken(), data}}}).
    const errors = [];
    const logger = { error: (code, meta) => errors.push(`${code}: ${JSON.stringify(meta)}`), warn() {}, debug() {} };
    const nextAuth = { baseUrlServer: ORIGIN, basePathServer: '/api/auth' };
    const csrfToken = await getCsrfToken();
    const s = await fetchData('session', nextAuth, logger, { req: { body: { csrfToken, data: { theme: 'dark' } } } });
    assert.deepEqual(errors, [], 'next-auth logged no CLIENT_FETCH_ERROR');
    assert.equal(s?.user?.email, user.email, `update(): ${JSON.stringify(s)}`);
    const after = lastSetCookies.find((l) => l.startsWith(`${SESSION_COOKIE}=`));
    assert.ok(after, `update() re-issues ${SESSION_COOKIE}: ${lastSetCookies.join(' | ')}`);
    assert.notEqual(jar.get(SESSION_COOKIE), before, 'a new cookie value');
    assert.equal(await moduleStatus(jar), 200, 'the re-issued cookie opens the modules');
});

// useSession().update() during a database restart: NextAuth's JWT
// update() never asks a database.  The platform's 503 made fetchData()
// log CLIENT_FETCH_ERROR and update() return null (found by the
// authedges probe); it answers the session from the token now, nothing
// re-issued, and getSession() the same.
test('update() while the database is down: the session from the token, not null; nothing re-issued', async (t) => {
    const STACKCTL = process.env.NANO_TEST_STACKCTL;
    if (!STACKCTL) {
        t.skip('NANO_TEST_STACKCTL is not set (run through make test)');
        return;
    }
    const stackctl = (what) => execFileSync(STACKCTL, [what], { stdio: 'ignore', timeout: 60000 });
    const user = await signedIn('update-dbdown');
    const before = jar.get(SESSION_COOKIE);
    const errors = [];
    const logger = { error: (code, meta) => errors.push(`${code}: ${JSON.stringify(meta)}`), warn() {}, debug() {} };
    const nextAuth = { baseUrlServer: ORIGIN, basePathServer: '/api/auth' };
    const csrfToken = await getCsrfToken();
    let s;
    let read;
    stackctl('stop-db');
    try {
        s = await fetchData('session', nextAuth, logger, { req: { body: { csrfToken, data: { theme: 'dark' } } } });
        read = await getSession();
    } finally {
        stackctl('start-db');
    }
    // back up before the next test signs up
    const t0 = Date.now();
    let back = 0;
    while (back !== 201 && Date.now() - t0 < 15000) {
        back = (await realFetch(`${BASE}/api/register`, {
            method: 'POST', headers: { 'Content-Type': 'application/json', Origin: ORIGIN },
            body: JSON.stringify(newUser('update-dbback')),
        })).status;
        if (back !== 201) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(back, 201, 'sign-up works again');
    assert.deepEqual(errors, [], 'next-auth logged no CLIENT_FETCH_ERROR');
    assert.equal(s?.user?.email, user.email, `update(): ${JSON.stringify(s)}`);
    assert.equal(read?.user?.email, user.email, `getSession(): ${JSON.stringify(read)}`);
    assert.equal(jar.get(SESSION_COOKIE), before, 'the cookie is kept as it was');
});

test('POST /api/auth/session without a valid csrfToken: 400 {}', async () => {
    await signedIn('update-nocsrf');
    await getCsrfToken();
    for (const [what, body] of [
        ['no csrfToken', { data: {} }],
        ['a wrong csrfToken', { csrfToken: 'a'.repeat(64), data: {} }],
    ]) {
        const res = await raw('/api/auth/session', {
            method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
        });
        assert.equal(res.status, 400, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.deepEqual(res.json, {}, what);
    }
    // The session itself is untouched.
    assert.ok(await getSession(), 'still signed in');
});

test('signOut({redirect: false}) answers the url; then getSession() is null and the old cookie is refused', async () => {
    await signedIn('signout');
    const old = jar.copy();
    const r = await signOut({ redirect: false, callbackUrl: `${BASE}/seedream/` });
    const t0 = Date.now();
    assert.deepEqual(r, { url: `${ORIGIN}/seedream/` });
    assert.equal(jar.get(SESSION_COOKIE), undefined, 'the cookie is cleared');
    assert.equal(await getSession(), null, 'getSession() after signOut()');

    let status;
    let delay = null;
    while (Date.now() - t0 < 4000) {
        status = await moduleStatus(old);
        if (status === 401) {
            delay = Date.now() - t0;
            break;
        }
        await new Promise((r2) => setTimeout(r2, 100));
    }
    assert.ok(delay !== null, `the signed-out cookie still opens /qwen/api/me (${status}) after 4 s`);
    assert.ok(delay < REVOKE_WITHIN, `refused after ${delay} ms (must be < ${REVOKE_WITHIN})`);
});

// A sign-out the database cannot record keeps the cookie (a copied one
// would live on), but its answer had no url: signOut() (redirect: true)
// went to the callbackUrl, still signed in and told nothing, and the
// sign-out page's form showed a line of JSON.
test('signOut() while the database is down: the sign-out page says why, the session stays', async (t) => {
    const STACKCTL = process.env.NANO_TEST_STACKCTL;
    if (!STACKCTL) {
        t.skip('NANO_TEST_STACKCTL is not set (run through make test)');
        return;
    }
    const stackctl = (what) => execFileSync(STACKCTL, [what], { stdio: 'ignore', timeout: 60000 });
    const user = await signedIn('signout-dbdown');
    let r;
    let form;
    let during;
    stackctl('stop-db');
    try {
        // the session endpoint answers from the token the gateway took,
        // as NextAuth's JWT sessions do (it was a 503: getSession() null)
        during = await getSession();
        r = await signOut({ redirect: false, callbackUrl: `${BASE}/seedream/` });
        form = await raw('/api/auth/signout', {
            method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'text/html' },
            body: new URLSearchParams({ csrfToken: await getCsrfToken(), callbackUrl: `${BASE}/seedream/` }),
        });
    } finally {
        stackctl('start-db');
    }
    assert.equal(during?.user?.email, user.email, `getSession() with the database down: ${JSON.stringify(during)}`);
    const target = `${ORIGIN}/api/auth/signout?error=ServiceUnavailable`;
    assert.equal(r?.url, target, JSON.stringify(r));
    assert.equal(form.status, 302, form.text.slice(0, 200));
    assert.equal(new URL(form.headers.get('location'), BASE).href, target);
    const page = await raw('/api/auth/signout?error=ServiceUnavailable', { headers: { Accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.text, /unavailable/i, 'the page says why');
    assert.ok(jar.get(SESSION_COOKIE), 'the cookie is kept');

    // back up: signed in still, and signOut() works
    const t0 = Date.now();
    let s;
    do {
        s = await getSession();
        if (s) break;
        await new Promise((res) => setTimeout(res, 250));
    } while (Date.now() - t0 < 15000);
    assert.equal(s?.user?.email, user.email, 'still signed in');
    assert.deepEqual(await signOut({ redirect: false, callbackUrl: `${BASE}/seedream/` }), { url: `${ORIGIN}/seedream/` });
});

// --- endpoints the client and its pages reach ------------------------------------------

test('POST /api/auth/signout without a callbackUrl field goes to the next-auth.callback-url cookie', async () => {
    await signedIn('signout-cookie');
    jar.set(CALLBACK_COOKIE, encodeURIComponent(`${ORIGIN}/grok/`));
    const csrfToken = await getCsrfToken();
    let res = await raw('/api/auth/signout', {
        method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrfToken, json: 'true' }),
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { url: `${ORIGIN}/grok/` }, 'json=true');

    // And as a redirect, with a fresh session.
    await signedIn('signout-cookie2');
    jar.set(CALLBACK_COOKIE, encodeURIComponent(`${ORIGIN}/openai/`));
    res = await raw('/api/auth/signout', {
        method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrfToken: await getCsrfToken() }),
    });
    assert.equal(res.status, 302, res.text);
    assert.equal(new URL(res.headers.get('location'), BASE).href, `${ORIGIN}/openai/`);
});

test('POST /api/auth/callback/credentials with a JSON body signs in', async () => {
    const user = await registered('json-body');
    const csrfToken = await getCsrfToken();
    const res = await raw('/api/auth/callback/credentials', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ csrfToken, email: user.email, password: user.password, callbackUrl: `${BASE}/wan-2.5/`, json: 'true' }),
    });
    assert.equal(res.status, 200, `${res.status} ${res.text.slice(0, 200)}`);
    assert.deepEqual(res.json, { url: `${ORIGIN}/wan-2.5/` });
    assert.ok(jar.get(SESSION_COOKIE), 'a session cookie');
    assert.equal((await getSession())?.user?.email, user.email);

    // A wrong password in JSON is refused like the form.
    jar = new Jar();
    const bad = await raw('/api/auth/callback/credentials', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ csrfToken: await getCsrfToken(), email: user.email, password: 'wrong-password-1', json: 'true' }),
    });
    assert.equal(bad.status, 401, bad.text);
    assert.match(bad.json?.url ?? '', /\/api\/auth\/error\?error=CredentialsSignin/);
});

test('GET /api/auth/signin/credentials serves the sign-in page', async () => {
    const res = await raw('/api/auth/signin/credentials', { headers: { Accept: 'text/html' } });
    assert.equal(res.status, 200, `${res.status} ${res.text.slice(0, 200)}`);
    assert.match(res.headers.get('content-type') || '', /^text\/html/);
    assert.match(res.text, /<form[^>]*action="[^"]*\/api\/auth\/callback\/credentials"/i);
    assert.match(res.text, /name="?csrfToken"?/);
});

test('POST /api/auth/signin/credentials behaves as NextAuth: to /api/auth/signin, or ?csrf=true', async () => {
    const csrfToken = await getCsrfToken();
    const post = (fields) => raw('/api/auth/signin/credentials', {
        method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ callbackUrl: `${BASE}/`, ...fields }),
    });
    let res = await post({ csrfToken });
    assert.equal(res.status, 302, `valid csrf: ${res.status} ${res.text.slice(0, 200)}`);
    let u = new URL(res.headers.get('location'), BASE);
    assert.equal(u.origin + u.pathname, `${ORIGIN}/api/auth/signin`);
    assert.equal(u.searchParams.get('csrf'), null, `valid csrf: ${u}`);

    res = await post({ csrfToken, json: 'true' });
    assert.equal(res.status, 200, `valid csrf, json=true: ${res.status} ${res.text.slice(0, 200)}`);
    assert.equal(new URL(res.json?.url, BASE).href, `${ORIGIN}/api/auth/signin`);

    res = await post({ csrfToken: 'b'.repeat(64) });
    assert.equal(res.status, 302, `invalid csrf: ${res.status}`);
    u = new URL(res.headers.get('location'), BASE);
    assert.equal(u.origin + u.pathname, `${ORIGIN}/api/auth/signin`);
    assert.equal(u.searchParams.get('csrf'), 'true', `invalid csrf: ${u}`);
});

// NextAuth remembers a posted callbackUrl in its callback-url cookie on
// every action, and its sign-in page posts that one: the platform's
// POST /api/auth/signin/credentials dropped it, and the sign-in page it
// sends the browser to went back to an older cookie's page (or the origin).
test('POST /api/auth/signin/credentials remembers its callbackUrl for the sign-in page', async () => {
    jar.set(CALLBACK_COOKIE, encodeURIComponent(`${ORIGIN}/grok/`));
    const res = await raw('/api/auth/signin/credentials', {
        method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrfToken: await getCsrfToken(), callbackUrl: `${BASE}/openai/` }),
    });
    assert.equal(res.status, 302, `${res.status} ${res.text.slice(0, 200)}`);
    assert.equal(decodeURIComponent(jar.get(CALLBACK_COOKIE) ?? ''), `${ORIGIN}/openai/`, res.setCookies.join(' | '));
    const page = await raw(new URL(res.headers.get('location'), BASE).pathname, { headers: { Accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.text, new RegExp(`name="callbackUrl" value="${ORIGIN}/openai/"`), 'the page posts the callbackUrl given');
    assert.doesNotMatch(page.text, /\/grok\//, 'not the older one');
});

test('POST /api/auth/_log (the client\'s error reports) answers 200 {}', async () => {
    // What next-auth's proxyLogger posts in a browser (sendBeacon or fetch).
    const res = await raw('/api/auth/_log', {
        method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8' },
        body: new URLSearchParams({
            level: 'error', code: 'CLIENT_FETCH_ERROR', client: 'true',
            message: 'Failed to fetch', url: '/api/auth/session',
        }),
    });
    assert.equal(res.status, 200, `${res.status} ${res.text.slice(0, 200)}`);
    assert.deepEqual(res.json, {});
});
