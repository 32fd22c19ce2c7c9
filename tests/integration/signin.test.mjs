// The platform as NextAuth v4's login authority: refusals of the
// credentials callback, CSRF, callbackUrl, providers, pages, renewal.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
    ORIGIN, SECRET, SESSION_COOKIE, Jar, get, request, form, newUser, register,
    csrf, signIn, location, parseSetCookie, isJson, isHtml, jwt, claims, now,
    decodeJwtPayload,
} from './lib.mjs';

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN };
let user;

before(async () => {
    user = newUser('signin');
    const res = await register(user);
    assert.equal(res.status, 201, res.text);
});

function noSession(res) {
    return !res.setCookies.some((l) => {
        const c = parseSetCookie(l);
        return c.name.includes(SESSION_COOKIE) && c.value !== '';
    });
}

test('a wrong password redirects with error=CredentialsSignin and no session', async () => {
    const jar = new Jar();
    const res = await signIn(jar, user.email, 'wrong-password-123', { callbackUrl: '/qwen/' });
    assert.equal(res.status, 302, res.text);
    const { url } = location(res);
    assert.equal(url.origin, ORIGIN);
    assert.equal(url.searchParams.get('error'), 'CredentialsSignin');
    assert.ok(noSession(res), 'no session cookie');
});

test('after a failed attempt the callbackUrl is remembered, as NextAuth does', async () => {
    const jar = new Jar();
    let res = await signIn(jar, user.email, 'wrong-password-123', { callbackUrl: '/qwen/?tab=1' });
    assert.equal(res.status, 302, res.text);
    // the sign-in page shown after the error posts the same callbackUrl
    res = jar.apply(await get('/api/auth/signin?error=CredentialsSignin', { headers: jar.headers() }));
    assert.equal(res.status, 200);
    assert.ok(res.text.includes('/qwen/?tab=1'), 'the form carries the callbackUrl');
    // and a second attempt that does not send one goes there too
    res = await signIn(jar, user.email, user.password, { callbackUrl: '' });
    assert.equal(res.status, 302, res.text);
    assert.equal(location(res).url.href, `${ORIGIN}/qwen/?tab=1`);
});

test('a remembered callbackUrl is checked again: a forged cookie sends nobody off-site', async () => {
    for (const forged of ['https://evil.example/', '//evil.example/', '/\\evil.example/']) {
        const jar = new Jar();
        jar.set('next-auth.callback-url', encodeURIComponent(forged));
        const res = await signIn(jar, user.email, user.password, { callbackUrl: '' });
        assert.equal(res.status, 302, res.text);
        assert.equal(location(res).url.href, `${ORIGIN}/`, `forged ${forged}`);
    }
});

test('an unknown email is refused the same way', async () => {
    const res = await signIn(new Jar(), 'nobody-here@example.com', 'whatever-123');
    assert.equal(res.status, 302);
    assert.equal(location(res).url.searchParams.get('error'), 'CredentialsSignin');
    assert.ok(noSession(res));
});

test('json=true answers {url} instead of redirecting', async () => {
    let res = await signIn(new Jar(), user.email, 'wrong-password-123', { json: 'true' });
    assert.equal(res.status, 401, res.text);
    assert.ok(isJson(res));
    assert.match(res.json().url, /error=CredentialsSignin/);
    assert.ok(noSession(res));

    const jar = new Jar();
    res = await signIn(jar, user.email, user.password, { json: 'true', callbackUrl: '/seedream/' });
    assert.equal(res.status, 200, res.text);
    assert.equal(new URL(res.json().url, ORIGIN).href, `${ORIGIN}/seedream/`);
    assert.ok(jar.get(SESSION_COOKIE), 'session cookie set');
});

test('missing or wrong csrf: redirect with csrf=true and no session', async () => {
    const cases = [];
    // No token field at all.
    let jar = new Jar();
    await csrf(jar);
    cases.push(['no csrfToken field', jar, { email: user.email, password: user.password }]);
    // A token that does not match the cookie.
    jar = new Jar();
    await csrf(jar);
    cases.push(['wrong csrfToken', jar, { csrfToken: 'a'.repeat(64), email: user.email, password: user.password }]);
    // A token without its cookie.
    jar = new Jar();
    const token = await csrf(jar);
    cases.push(['no csrf cookie', new Jar(), { csrfToken: token, email: user.email, password: user.password }]);
    // A forged cookie: the token with a hash not made with the secret.
    jar = new Jar();
    jar.set('next-auth.csrf-token', encodeURIComponent(`${'b'.repeat(64)}|${'c'.repeat(64)}`));
    cases.push(['forged csrf cookie', jar, { csrfToken: 'b'.repeat(64), email: user.email, password: user.password }]);

    for (const [what, j, fields] of cases) {
        const res = await request('POST', '/api/auth/callback/credentials', {
            headers: j.headers(FORM), body: form({ callbackUrl: '/', ...fields }),
        });
        assert.equal(res.status, 302, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
        const { url } = location(res);
        assert.equal(url.origin, ORIGIN, what);
        assert.equal(url.searchParams.get('csrf'), 'true', `${what}: ${url}`);
        assert.ok(noSession(res), `${what}: no session`);
    }
});

test('callbackUrl: only relative paths and our origin; anything else falls back to the origin', async () => {
    const good = {
        '/grok/': `${ORIGIN}/grok/`,
        '/openai/?tab=2': `${ORIGIN}/openai/?tab=2`,
        [`${ORIGIN}/wan-2.5/`]: `${ORIGIN}/wan-2.5/`,
    };
    for (const [cb, want] of Object.entries(good)) {
        const res = await signIn(new Jar(), user.email, user.password, { callbackUrl: cb });
        assert.equal(res.status, 302, cb);
        assert.equal(location(res).url.href, want, `callbackUrl ${cb}`);
    }
    const evil = [
        'https://evil.example/', '//evil.example/', '///evil.example/', '/\\evil.example/',
        '\\\\evil.example/', 'http://evil.example', `${ORIGIN}.evil.example/`,
        `${ORIGIN}@evil.example/`, 'javascript:alert(1)', 'http:evil.example',
        '/%2F%2Fevil.example/', '/\t/evil.example/',
    ];
    for (const cb of evil) {
        const res = await signIn(new Jar(), user.email, user.password, { callbackUrl: cb });
        assert.equal(res.status, 302, cb);
        const { raw, url } = location(res);
        assert.ok(!/^[/\\]{2}/.test(raw) && !/^\/\s*[/\\]/.test(raw), `callbackUrl ${cb}: Location ${raw}`);
        assert.equal(url.origin, ORIGIN, `callbackUrl ${cb}: Location ${raw}`);
    }
    // A failed sign-in must not carry an evil callbackUrl along either.
    const res = await signIn(new Jar(), user.email, 'wrong-password-123', { callbackUrl: 'https://evil.example/' });
    assert.equal(location(res).url.origin, ORIGIN);
});

// A module page with a long query (a prompt in the URL) sends a
// signed-out browser to sign in with all of it as callbackUrl; over
// 2048 bytes that landed on the root, where NextAuth keeps any length.
// The path is kept when it alone is accepted (found by the authedges
// probe).
test('a callbackUrl over 2048 bytes comes back to its path, not the root; a refused one still to the origin', async () => {
    const long = `?prompt=${'a'.repeat(3000)}`;
    const page = await get(`/qwen/${long}`, { headers: { Accept: 'text/html' } });
    assert.equal(page.status, 302);
    const signinPage = await get(page.headers.location);
    assert.equal(signinPage.status, 200);
    assert.match(signinPage.text, new RegExp(`name="callbackUrl" value="${ORIGIN}/qwen/"`),
        'the sign-in page posts the path back');
    for (const [cb, want] of [
        [`/qwen/${long}`, `${ORIGIN}/qwen/`],
        [`${ORIGIN}/seedream/${long}`, `${ORIGIN}/seedream/`],
        [`//evil.example/${long}`, `${ORIGIN}/`],
        [`https://evil.example/qwen/${long}`, `${ORIGIN}/`],
    ]) {
        const res = await signIn(new Jar(), user.email, user.password, { callbackUrl: cb });
        assert.equal(res.status, 302, cb.slice(0, 60));
        assert.equal(location(res).url.href, want, `callbackUrl ${cb.slice(0, 60)}...`);
    }
});

test('GET /api/auth/providers lists credentials', async () => {
    const res = await get('/api/auth/providers');
    assert.equal(res.status, 200);
    assert.ok(isJson(res));
    const p = res.json();
    assert.equal(p.credentials.id, 'credentials');
    assert.equal(p.credentials.type, 'credentials');
    assert.match(p.credentials.callbackUrl, /\/api\/auth\/callback\/credentials$/);
    assert.match(p.credentials.signinUrl, /\/api\/auth\/signin\/credentials$/);
});

test('GET /api/auth/signin is an HTML form posting to the credentials callback', async () => {
    const res = await get('/api/auth/signin', { headers: { Accept: 'text/html' } });
    assert.equal(res.status, 200);
    assert.ok(isHtml(res));
    assert.match(res.text, /<form[^>]*>/i);
    assert.match(res.text, /\/api\/auth\/callback\/credentials/);
    assert.match(res.text, /name="?csrfToken"?/);
    assert.match(res.text, /type="?password"?/);
    // A hostile callbackUrl is not reflected into the page unescaped.
    const x = await get('/api/auth/signin?callbackUrl=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    assert.equal(x.status, 200);
    assert.ok(!x.text.includes('"><script>alert(1)</script>'), 'callbackUrl reflected unescaped');
});

// BREACH: the sign-in page holds the CSRF token next to the callbackUrl
// it echoes; compressed (Debian's nginx.conf has gzip on, which the test
// stack's http {} has too), a network observer who can make the browser
// ask for it with chosen callbackUrls reads the token off the sizes
// (found by the tabs2 probe).  The gateway compresses no answer.
test('the sign-in and sign-out pages, which hold the CSRF token beside the echoed callbackUrl, are not compressed', async () => {
    for (const path of ['/api/auth/signin?callbackUrl=%2Fqwen%2F%3Fguess%3Dabc', '/api/auth/signout?callbackUrl=%2Fguess']) {
        const res = await get(path, { headers: { Accept: 'text/html', 'Accept-Encoding': 'gzip, deflate, br' } });
        assert.equal(res.status, 200, path);
        assert.ok(isHtml(res), path);
        assert.equal(res.headers['content-encoding'], undefined, `${path} compressed`);
        assert.match(res.text, /name="?csrfToken"?/);
        assert.match(res.text, /guess/);
    }
    // /ui/'s files, the same for everyone, are compressed again
    const css = await get('/ui/ui.css', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-encoding'], 'gzip', '/ui/ui.css');
});

// Markup that got past the escaping must run nothing: every page says
// script-src 'self' (no inline script, no plugin, no <base>) beside
// frame-ancestors, and holds no inline script that the policy would stop
// (sign-up's ran inline until the security probe moved it to
// /ui/signup.js; the pages said only frame-ancestors).
test('every page allows only its own script files: script-src \'self\', object-src and base-uri \'none\', and no inline script', async () => {
    const jar = new Jar();
    const res = await signIn(jar, user.email, user.password);
    assert.equal(res.status, 302, res.text);
    const pages = [
        ['/api/auth/signin', {}], ['/api/auth/signout', {}], ['/api/auth/error?error=AccessDenied', {}],
        ['/signup', {}], ['/', {}], ['/', jar.headers()], ['/settings', jar.headers()],
        ['/billing', jar.headers()], ['/qwen/', jar.headers()], ['/nano-banana/', jar.headers()],
    ];
    for (const [path, headers] of pages) {
        const page = await get(path, { headers: { Accept: 'text/html', ...headers } });
        assert.ok(isHtml(page), `${path}: ${page.status}`);
        const csp = (page.headers['content-security-policy'] || '').split(';').map((d) => d.trim());
        for (const d of ["script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) {
            assert.ok(csp.includes(d), `${path}: ${d} in ${page.headers['content-security-policy']}`);
        }
        for (const tag of page.text.match(/<script\b[^>]*>/g) || []) {
            assert.match(tag, /\ssrc="\/ui\/[a-z-]+\.js"/, `${path}: an inline script ${tag}`);
        }
    }
    const js = await get('/ui/signup.js');
    assert.equal(js.status, 200);
    assert.match(js.headers['content-type'], /javascript/);
});

test('GET /api/auth/signout and /api/auth/error are HTML pages', async () => {
    let res = await get('/api/auth/signout', { headers: { Accept: 'text/html' } });
    assert.equal(res.status, 200);
    assert.ok(isHtml(res));
    assert.match(res.text, /<form[^>]*>/i);
    res = await get('/api/auth/error', { headers: { Accept: 'text/html' } });
    assert.equal(res.status, 200);
    assert.ok(isHtml(res));
});

test('GET on the credentials callback or register does not sign in', async () => {
    const q = form({ email: user.email, password: user.password });
    const res = await get(`/api/auth/callback/credentials?${q}`);
    assert.ok(noSession(res), 'no session from a GET');
    const reg = await get('/api/register');
    assert.equal(reg.status, 405, reg.text);
});

test('/api/auth/session renews a session older than 24 h', async () => {
    const jar = new Jar();
    await signIn(jar, user.email, user.password);
    const me = (await get('/qwen/api/me', { headers: jar.headers() })).json();
    const t = now();
    const old = jwt(claims({ sub: me.id, email: me.email, name: me.name, iat: t - 2 * 86400, exp: t + 28 * 86400 }), { key: SECRET });
    const res = await get('/api/auth/session', { headers: { Cookie: `${SESSION_COOKIE}=${old}` } });
    assert.equal(res.status, 200);
    assert.equal(res.json().user.email, user.email);
    const c = res.setCookies.map(parseSetCookie).find((x) => x.name === SESSION_COOKIE);
    assert.ok(c && c.value, 'a renewed session cookie');
    const p = decodeJwtPayload(c.value);
    assert.ok(p.iat >= t - 5, `renewed iat ${p.iat}`);
    assert.ok(p.exp >= t + 30 * 86400 - 5, `renewed exp ${p.exp}`);
    assert.equal(p.sub, me.id);
    // The renewed token opens the modules.
    const again = await get('/qwen/api/me', { headers: { Cookie: `${SESSION_COOKIE}=${c.value}` } });
    assert.equal(again.status, 200);
});

// NextAuth's error page looks its codes up lowercased (errors[error.
// toLowerCase()]): ?error=accessdenied was its 403 and our 200 (noticed
// by the nextauth probe).
test('GET /api/auth/error: Configuration 500, AccessDenied and Verification 403, in any case; others 200', async () => {
    const want = {
        Configuration: 500, configuration: 500, AccessDenied: 403, accessdenied: 403, ACCESSDENIED: 403,
        Verification: 403, verification: 403, Default: 200, nonsense: 200,
    };
    for (const [code, status] of Object.entries(want)) {
        const res = await get(`/api/auth/error?error=${code}`, { headers: { Accept: 'text/html' } });
        assert.equal(res.status, status, `?error=${code}`);
        assert.ok(isHtml(res), `?error=${code}: ${res.headers['content-type']}`);
    }
});

// The site opened under another name of the machine (make run prints
// http://localhost:PORT; 127.0.0.1 or its IP is another origin): the
// form's post is cross-site and refused.  A person's browser got bare
// JSON; its navigation now lands on the sign-in form at the site's own
// address, saying why.  Scripts still get 403 JSON, and nobody is
// signed in either way.
test('a cross-site sign-in form post: a browser is sent to the form at the site\'s address (error=CrossSite), a script gets 403 JSON, no session', async () => {
    const other = ORIGIN.replace('127.0.0.1', 'localhost') === ORIGIN
        ? ORIGIN.replace('localhost', '127.0.0.1') : ORIGIN.replace('127.0.0.1', 'localhost');
    assert.notEqual(other, ORIGIN);
    const post = async (headers) => {
        const jar = new Jar();
        const csrfToken = await csrf(jar);
        return request('POST', '/api/auth/callback/credentials', {
            headers: jar.headers({ 'Content-Type': 'application/x-www-form-urlencoded', Origin: other, ...headers }),
            body: form({ csrfToken, email: user.email, password: user.password, callbackUrl: '/' }),
        });
    };
    for (const h of [{ 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Site': 'cross-site', Accept: 'text/html,*/*;q=0.8' },
        { Accept: 'text/html' }]) {
        const res = await post(h);
        const what = `a browser's post with ${JSON.stringify(h)}`;
        assert.equal(res.status, 302, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
        const { url } = location(res);
        assert.equal(url.origin, ORIGIN, what);
        assert.equal(url.pathname, '/api/auth/signin', what);
        assert.equal(url.searchParams.get('error'), 'CrossSite', what);
        assert.ok(noSession(res), `${what}: no session cookie`);
    }
    for (const h of [{ 'Sec-Fetch-Mode': 'cors', Accept: '*/*' }, { Accept: 'application/json' }, {}]) {
        const res = await post(h);
        const what = `a script's post with ${JSON.stringify(h)}`;
        assert.equal(res.status, 403, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.ok(isJson(res), what);
        assert.equal(res.json().error, 'cross_site', what);
        assert.ok(noSession(res), `${what}: no session cookie`);
    }
    const page = await get('/api/auth/signin?error=CrossSite', { headers: { Accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.ok(isHtml(page));
    assert.match(page.text, /another address of\s+this\s+one was refused\. Sign in here\./);
});
