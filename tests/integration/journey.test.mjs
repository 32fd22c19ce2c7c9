// The whole login journey: CSRF, sign-up (and its refusals), sign-in,
// every module with the session, the session endpoint, sign-out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
    ORIGIN, MODULES, TITLES, SESSION_COOKIE, Jar, get, request, form,
    newUser, register, csrf, location, parseSetCookie, isJson, isHtml,
} from './lib.mjs';

test('login journey: sign up, sign in once, open every module, sign out', async (t) => {
    const user = newUser('journey');
    const jar = new Jar();

    await t.test('GET /api/auth/csrf gives a token and its double-submit cookie', async () => {
        const res = jar.apply(await get('/api/auth/csrf'));
        assert.equal(res.status, 200);
        assert.ok(isJson(res), res.headers['content-type']);
        const { csrfToken } = res.json();
        assert.match(csrfToken, /^[0-9a-f]{32,}$/i);
        const cookie = res.setCookies.map(parseSetCookie).find((c) => c.name === 'next-auth.csrf-token');
        assert.ok(cookie, `no next-auth.csrf-token cookie in ${res.setCookies}`);
        assert.equal(decodeURIComponent(cookie.value).split('|')[0], csrfToken);
        assert.ok(cookie.attrs.httponly, 'csrf cookie must be HttpOnly');
        assert.equal(cookie.attrs.path, '/');
        assert.equal(String(cookie.attrs.samesite).toLowerCase(), 'lax');
        // With the cookie, the same token comes back (NextAuth reuses it).
        const again = await get('/api/auth/csrf', { headers: jar.headers() });
        assert.equal(again.json().csrfToken, csrfToken);
    });

    await t.test('POST /api/register creates the user: 201', async () => {
        const res = await register(user);
        assert.equal(res.status, 201, res.text);
        assert.ok(isJson(res));
        assert.ok(!res.text.includes(user.password), 'the answer must not echo the password');
        assert.ok(!/\$2[aby]\$/.test(res.text), 'the answer must not contain the hash');
    });

    await t.test('the same email again: 409', async () => {
        const res = await register({ ...user, name: 'Someone Else' });
        assert.equal(res.status, 409, res.text);
        assert.equal(typeof res.json().error, 'string');
    });

    await t.test('a bad email: 400 with a reason', async () => {
        for (const email of ['not-an-email', '', 'a@', '@example.com', 'a b@example.com']) {
            const res = await register({ ...newUser('bad'), email });
            assert.equal(res.status, 400, `email ${JSON.stringify(email)}: ${res.text}`);
            const body = res.json();
            assert.equal(typeof body.error, 'string');
            assert.ok(body.message && body.message.length > 0, 'a reason in message');
        }
    });

    await t.test('names: the same rule as in the settings (100 characters, no control or direction-reversing ones); none at all is fine', async () => {
        const bad = [
            ['x'.repeat(101), 'the name must be at most 100 characters long'],
            ['Two\nlines', 'the name contains a control character'],
            ['abc\u202Efdp.exe', 'the name contains a character that reverses the text\'s direction'],
            ['\u2067isolated', 'the name contains a character that reverses the text\'s direction'],
            ['Two\u2028lines', 'the name contains a control character'],
        ];
        for (const [name, message] of bad) {
            const res = await register({ ...newUser('name'), name });
            assert.equal(res.status, 400, `${JSON.stringify(name)}: ${res.text}`);
            assert.deepEqual(res.json(), { error: 'invalid_name', message });
        }
        // 100 two-byte characters: 200 bytes, as the settings page takes them
        for (const name of ['é'.repeat(100), '', 'زهرا\u200Cی']) {
            const res = await register({ ...newUser('name'), name });
            assert.equal(res.status, 201, `${JSON.stringify(name)}: ${res.text}`);
        }
        // a name of blanks (NBSP, zero-width space) is no name: null, not
        // a name that shows nothing; blanks at the ends go
        for (const [name, kept] of [['\u00a0\u200b', null], ['\u3000Ana\u00a0', 'Ana']]) {
            const res = await register({ ...newUser('name'), name });
            assert.equal(res.status, 201, `${JSON.stringify(name)}: ${res.text}`);
            assert.equal(res.json().name, kept, JSON.stringify(name));
        }
    });

    await t.test('a password shorter than 8: 400 with a reason; 8 is enough', async () => {
        const res = await register({ ...newUser('short'), password: '1234567' });
        assert.equal(res.status, 400, res.text);
        assert.ok(res.json().message);
        const ok = await register({ ...newUser('eight'), password: '12345678' });
        assert.equal(ok.status, 201, ok.text);
    });

    await t.test('cross-site sign-up: 403 (Origin and Sec-Fetch-Site)', async () => {
        let res = await register(newUser('xs'), { Origin: 'https://evil.example' });
        assert.equal(res.status, 403, res.text);
        assert.equal(typeof res.json().error, 'string');
        res = await register(newUser('xs'), { Origin: 'null' });
        assert.equal(res.status, 403, `Origin: null: ${res.text}`);
        res = await request('POST', '/api/register', {
            headers: { 'Content-Type': 'application/json', 'Sec-Fetch-Site': 'cross-site' },
            body: JSON.stringify(newUser('xs')),
        });
        assert.equal(res.status, 403, `Sec-Fetch-Site without Origin: ${res.text}`);
        res = await register(newUser('xs'), { 'Sec-Fetch-Site': 'cross-site' });
        assert.equal(res.status, 403, `Sec-Fetch-Site with our Origin: ${res.text}`);
    });

    await t.test('sign-up with a form body works too', async () => {
        const u = newUser('form');
        const res = await request('POST', '/api/register', {
            headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN, 'Sec-Fetch-Site': 'same-origin' },
            body: form(u),
        });
        assert.equal(res.status, 201, res.text);
    });

    await t.test('sign in: 302 to the callbackUrl with the session cookie', async () => {
        const csrfToken = await csrf(jar);
        const res = jar.apply(await request('POST', '/api/auth/callback/credentials', {
            headers: jar.headers({ 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN }),
            body: form({ csrfToken, email: user.email, password: user.password, callbackUrl: '/qwen/' }),
        }));
        assert.equal(res.status, 302, res.text);
        const { url } = location(res);
        assert.equal(url.href, `${ORIGIN}/qwen/`);
        const c = res.setCookies.map(parseSetCookie).find((x) => x.name === SESSION_COOKIE);
        assert.ok(c, `no ${SESSION_COOKIE} in ${res.setCookies.join(' | ')}`);
        assert.match(c.value, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a compact JWS');
        assert.equal(c.attrs.httponly, true, 'HttpOnly');
        assert.equal(String(c.attrs.samesite).toLowerCase(), 'lax');
        assert.equal(c.attrs.path, '/');
        assert.equal(c.attrs.domain, undefined, 'no Domain');
        assert.equal(c.attrs.secure, undefined, 'not Secure over http');
        const expires = c.attrs['max-age'] !== undefined
            ? Date.now() + Number(c.attrs['max-age']) * 1000 : Date.parse(c.attrs.expires);
        const days = (expires - Date.now()) / 86400000;
        assert.ok(days > 29 && days <= 30.01, `30-day expiry, got ${days.toFixed(2)} days`);
    });

    let id;
    await t.test('every module opens with the one session', async () => {
        for (const m of MODULES) {
            const page = await get(`/${m}/`, { headers: jar.headers({ Accept: 'text/html' }) });
            assert.equal(page.status, 200, `/${m}/: ${page.text.slice(0, 200)}`);
            assert.ok(isHtml(page), `/${m}/ content-type ${page.headers['content-type']}`);
            assert.match(page.text, TITLES[m], `/${m}/ shows its title`);
            assert.ok(page.text.includes(user.name), `/${m}/ shows the user's name`);
            for (const other of MODULES) {
                assert.ok(page.text.includes(`/${other}`), `/${m}/ header links to /${other}`);
            }
            const me = await get(`/${m}/api/me`, { headers: jar.headers() });
            assert.equal(me.status, 200, `/${m}/api/me: ${me.text}`);
            assert.ok(isJson(me));
            const body = me.json();
            assert.deepEqual(Object.keys(body).sort(), ['email', 'id', 'module', 'name']);
            assert.equal(body.email, user.email);
            assert.equal(body.name, user.name);
            assert.equal(body.module, m);
            assert.ok(body.id, 'an id');
            if (id === undefined) id = body.id;
            assert.equal(body.id, id, 'the same id in every module');
        }
    });

    await t.test('an unknown path in a module: 404', async () => {
        for (const m of MODULES) {
            const res = await get(`/${m}/api/no-such-thing`, { headers: jar.headers() });
            assert.equal(res.status, 404, `/${m}/api/no-such-thing`);
            assert.equal(typeof res.json().error, 'string');
            const page = await get(`/${m}/no-such-page`, { headers: jar.headers({ Accept: 'text/html' }) });
            assert.equal(page.status, 404, `/${m}/no-such-page`);
        }
    });

    await t.test('GET /api/auth/session returns the user', async () => {
        const res = await get('/api/auth/session', { headers: jar.headers() });
        assert.equal(res.status, 200);
        const s = res.json();
        assert.equal(s.user.email, user.email);
        assert.equal(s.user.name, user.name);
        assert.ok(!Number.isNaN(Date.parse(s.expires)), `expires: ${s.expires}`);
        const none = await get('/api/auth/session');
        assert.equal(none.status, 200);
        assert.deepEqual(none.json(), {});
    });

    await t.test('the home page links to all six modules by root path', async () => {
        const res = await get('/', { headers: jar.headers({ Accept: 'text/html' }) });
        assert.equal(res.status, 200);
        assert.ok(isHtml(res));
        for (const m of MODULES) assert.ok(res.text.includes(`href="/${m}`), `link to /${m}`);
    });

    // The header's Sign out named no page, so its sign-out went where the
    // callback-url cookie of the last sign-in pointed (often another
    // module); NextAuth's client signOut() sends the page it is on.
    await t.test("a page's Sign out (and a signed-out page's Sign in) come back to that page", async () => {
        const page = await get('/seedream/', { headers: jar.headers({ Accept: 'text/html' }) });
        assert.equal(page.status, 200);
        const href = page.text.match(/<a href="([^"]*)">Sign out<\/a>/)?.[1];
        assert.equal(href, '/api/auth/signout?callbackUrl=%2Fseedream%2F');
        const out = await get(href, { headers: jar.headers({ Accept: 'text/html' }) });
        assert.equal(out.status, 200);
        const back = out.text.match(/name="callbackUrl" value="([^"]*)"/)?.[1];
        assert.ok(back, 'the sign-out form has a callbackUrl');
        assert.equal(new URL(back, ORIGIN).href, `${ORIGIN}/seedream/`);
        assert.ok(out.text.includes('<a href="/api/auth/signout">Sign out</a>'),
            'the sign-out page names no page of its own');
        const home = await get('/', { headers: { Accept: 'text/html' } });
        assert.equal(home.status, 200);
        assert.ok(home.text.includes('<a href="/api/auth/signin?callbackUrl=%2F">Sign in</a>'));
    });

    await t.test('sign out: POST with csrf clears the cookie; modules redirect again', async () => {
        const csrfToken = await csrf(jar);
        const res = await request('POST', '/api/auth/signout', {
            headers: jar.headers({ 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN }),
            body: form({ csrfToken, callbackUrl: '/' }),
        });
        assert.equal(res.status, 302, res.text);
        assert.equal(location(res).url.origin, ORIGIN);
        const c = res.setCookies.map(parseSetCookie).find((x) => x.name === SESSION_COOKIE);
        assert.ok(c, 'the session cookie is overwritten');
        jar.apply(res);
        assert.equal(jar.get(SESSION_COOKIE), undefined, `cleared: ${res.setCookies.join(' | ')}`);
        for (const m of MODULES) {
            const page = await get(`/${m}/`, { headers: jar.headers({ Accept: 'text/html' }) });
            assert.equal(page.status, 302, `/${m}/ after sign-out`);
            assert.equal(page.headers.location, `/api/auth/signin?callbackUrl=${encodeURIComponent(`/${m}/`)}`);
        }
    });

    await t.test('sign-out without csrf: refused with ?csrf=true, cookie kept', async () => {
        const j = new Jar();
        j.set(SESSION_COOKIE, 'x.y.z');
        const res = await request('POST', '/api/auth/signout', {
            headers: j.headers({ 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN }),
            body: form({ callbackUrl: '/' }),
        });
        assert.equal(res.status, 302);
        const { url } = location(res);
        assert.equal(url.origin, ORIGIN);
        assert.equal(url.searchParams.get('csrf'), 'true');
        assert.ok(!res.setCookies.some((l) => parseSetCookie(l).name === SESSION_COOKIE));
    });
});

test('sign-up body refusals: bad JSON 400, oversized 413, wrong type 415', async () => {
    const post = (body, type = 'application/json') => request('POST', '/api/register', {
        headers: { 'Content-Type': type, Origin: ORIGIN }, body,
    });
    let res = await post('{"email": "x@example.com", ');
    assert.equal(res.status, 400, res.text);
    assert.equal(typeof res.json().error, 'string');
    res = await post('[1, 2, 3]');
    assert.equal(res.status, 400, `a JSON array: ${res.text}`);
    res = await post(JSON.stringify({ email: 'x@example.com', name: 'X', password: 12345678 }));
    assert.equal(res.status, 400, `a number as password: ${res.text}`);
    res = await post(JSON.stringify({ name: 'X', password: '12345678' }));
    assert.equal(res.status, 400, `no email: ${res.text}`);
    res = await post('');
    assert.equal(res.status, 400, `empty body: ${res.text}`);

    const big = JSON.stringify({ ...newUser('big'), pad: 'x'.repeat(2 * 1024 * 1024) });
    res = await post(big);
    assert.equal(res.status, 413, `2 MB body: ${res.text.slice(0, 200)}`);
    assert.ok(isJson(res), `413 as JSON under /api/, got ${res.headers['content-type']}`);

    res = await post(JSON.stringify(newUser('type')), 'text/plain');
    assert.equal(res.status, 415, res.text);
    assert.equal(typeof res.json().error, 'string');
    res = await post(JSON.stringify(newUser('type')), 'application/xml');
    assert.equal(res.status, 415, res.text);
});
