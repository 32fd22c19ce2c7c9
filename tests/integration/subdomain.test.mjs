// Phase 2, an own domain (issue 8): a deployment on nano.test whose
// seedream module is also served on seedream.nano.test, from one nginx
// (scripts/peer.sh --site: nginx.conf.d/subdomain.conf.in filled in,
// NANO_ORIGINS, NANO_COOKIE_DOMAIN), reached on 127.0.0.1 with Host
// headers.  Path mode keeps working on the same nginx.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
    BASE, Jar, SESSION_COOKIE, parseSetCookie, newUser, register, request,
} from './lib.mjs';
import { ROOT } from './generations.mjs';

const PORT = Number(process.env.NANO_TEST_SITE_PORT || Number(new URL(BASE).port) + 60);
const PEER = path.join(ROOT, 'scripts/peer.sh');
const DOMAIN = 'nano.test';
const MAIN = `${DOMAIN}:${PORT}`;
const SUB = `seedream.${DOMAIN}:${PORT}`;
const MAIN_ORIGIN = `http://${MAIN}`;
const SUB_ORIGIN = `http://${SUB}`;
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

// A request to the site's nginx as host (Host header), with jar's cookies.
function at(host, method, p, { jar, headers = {}, body } = {}) {
    const h = { Host: host, ...headers };
    return request(method, p, { port: PORT, headers: jar ? jar.headers(h) : h, body });
}

// Signs a new user in on the platform's origin with callbackUrl; returns
// {jar, res, user}.
async function signIn(callbackUrl) {
    const user = newUser('site');
    assert.equal((await register(user)).status, 201);
    const jar = new Jar();
    const c = jar.apply(await at(MAIN, 'GET', '/api/auth/csrf', { jar }));
    assert.equal(c.status, 200, c.text);
    const res = jar.apply(await at(MAIN, 'POST', '/api/auth/callback/credentials', {
        jar, headers: { ...FORM, Origin: MAIN_ORIGIN },
        body: new URLSearchParams({
            csrfToken: c.json().csrfToken, email: user.email, password: user.password, callbackUrl,
        }).toString(),
    }));
    return { jar, res, user };
}

before(() => {
    execFileSync(PEER, ['--name', 'site', 'start', String(PORT), '--site', DOMAIN], { stdio: 'inherit' });
});

after(() => {
    execFileSync(PEER, ['--name', 'site', 'stop'], { stdio: 'inherit' });
});

test('the subdomain\'s home is its module; without a session a page goes to the platform\'s absolute sign-in and back', async () => {
    const home = await at(SUB, 'GET', '/');
    assert.equal(home.status, 302);
    assert.equal(home.headers.location, '/seedream/');

    const page = await at(SUB, 'GET', '/seedream/?tab=history', { headers: { Accept: 'text/html' } });
    assert.equal(page.status, 302, page.text);
    const to = new URL(page.headers.location);
    assert.equal(to.origin, MAIN_ORIGIN, 'sign-in lives on the platform\'s origin');
    assert.equal(to.pathname, '/api/auth/signin');
    assert.equal(to.searchParams.get('callbackUrl'), `${SUB_ORIGIN}/seedream/?tab=history`);

    // leading slashes still collapse: no protocol-relative way out
    const sneaky = await at(SUB, 'GET', '//seedream/x', { headers: { Accept: 'text/html' } });
    assert.equal(sneaky.status, 302);
    assert.equal(new URL(sneaky.headers.location).searchParams.get('callbackUrl'), `${SUB_ORIGIN}/seedream/x`);

    const api = await at(SUB, 'GET', '/seedream/api/me');
    assert.equal(api.status, 401);
    assert.equal(api.json().error, 'unauthorized');
});

test('path mode keeps working on the same nginx: relative sign-in redirect, the module under its path', async () => {
    const page = await at(MAIN, 'GET', '/seedream/', { headers: { Accept: 'text/html' } });
    assert.equal(page.status, 302);
    assert.equal(page.headers.location, '/api/auth/signin?callbackUrl=%2Fseedream%2F');
    const { jar } = await signIn('/seedream/');
    const me = await at(MAIN, 'GET', '/seedream/api/me', { jar });
    assert.equal(me.status, 200, me.text);
});

test('signing in on the platform lands back on the subdomain, with one cookie for the whole domain', async () => {
    const { jar, res, user } = await signIn(`${SUB_ORIGIN}/seedream/`);
    assert.equal(res.status, 302, res.text);
    assert.equal(res.headers.location, `${SUB_ORIGIN}/seedream/`, 'back on the subdomain it came from');
    const cookie = res.setCookies.map(parseSetCookie).find((c) => c.name === SESSION_COOKIE);
    assert.ok(cookie, 'a session cookie');
    assert.equal(cookie.attrs.domain, DOMAIN, 'Domain covers *.nano.test');
    assert.equal(cookie.attrs.httponly, true);
    assert.equal(cookie.attrs.samesite, 'Lax');

    // the same cookie opens the module on its subdomain and on the path
    const sub = await at(SUB, 'GET', '/seedream/api/me', { jar });
    assert.equal(sub.status, 200, sub.text);
    assert.equal(sub.json().email, user.email);
    const page = await at(SUB, 'GET', '/seedream/', { jar, headers: { Accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.text, /Seedream/);
    // the page's platform calls work on the subdomain too
    const credits = await at(SUB, 'GET', '/api/credits?limit=1', { jar });
    assert.equal(credits.status, 200, credits.text);
    assert.equal(credits.json().balance, 100);
    const session = await at(MAIN, 'GET', '/api/auth/session', { jar });
    assert.equal(session.json().user.email, user.email);
});

test('callbackUrls: listed subdomains are kept, any other origin lands on the platform', async () => {
    for (const [given, lands] of [
        [`${SUB_ORIGIN}/seedream/?x=1`, `${SUB_ORIGIN}/seedream/?x=1`],
        ['http://evil.test/seedream/', MAIN_ORIGIN],
        [`http://seedream.${DOMAIN}.evil.test:${PORT}/`, MAIN_ORIGIN],
        [`https://seedream.${DOMAIN}:${PORT}/`, MAIN_ORIGIN],
        [`http://qwen.${DOMAIN}:${PORT}/`, MAIN_ORIGIN],
        [`//seedream.${DOMAIN}:${PORT}/`, MAIN_ORIGIN],
        // refused on the listed subdomain: the platform, as any refused
        // one (it was the subdomain's root)
        [`${SUB_ORIGIN}/seedream/\\x`, MAIN_ORIGIN],
    ]) {
        const { res } = await signIn(given);
        assert.equal(res.status, 302);
        assert.equal(res.headers.location, lands, `callbackUrl ${given}`);
    }
});

test('the gateway\'s CSRF rules on the subdomain: its own and the platform\'s origins pass, others are refused before the backend', async () => {
    const { jar } = await signIn('/');
    const post = (headers) => at(SUB, 'POST', '/seedream/api/generate', {
        jar, headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ prompt: 'a lighthouse on a subdomain' }),
    });
    const own = await post({ Origin: SUB_ORIGIN, 'Sec-Fetch-Site': 'same-origin' });
    assert.equal(own.status, 202, own.text);
    const sibling = await post({ Origin: MAIN_ORIGIN, 'Sec-Fetch-Site': 'same-site' });
    assert.equal(sibling.status, 202, `the platform's origin is the deployment's: ${sibling.text}`);
    for (const headers of [
        { Origin: 'http://evil.test' },
        { Origin: `http://qwen.${DOMAIN}:${PORT}` },
        { Origin: 'null' },
        { 'Sec-Fetch-Site': 'cross-site' },
        { Origin: SUB_ORIGIN, 'Sec-Fetch-Site': 'cross-site' },
    ]) {
        const r = await post(headers);
        assert.equal(r.status, 403, `${JSON.stringify(headers)}: ${r.text}`);
        assert.equal(r.json().error, 'csrf');
    }
});

test('identity on the subdomain comes only from the verified cookie', async () => {
    const { jar } = await signIn('/');
    const me = (await at(SUB, 'GET', '/seedream/api/me', { jar })).json();
    const forged = await at(SUB, 'GET', '/seedream/api/me', {
        headers: { 'X-Nano-User-Id': me.id, 'X-Nano-User-Email': me.email, 'Nano-User-Id': me.id },
    });
    assert.equal(forged.status, 401);
    const mixed = await at(SUB, 'GET', '/seedream/api/me', { jar, headers: { 'X-Nano-User-Id': 'someone-else' } });
    assert.equal(mixed.json().id, me.id);
    // a cookie for another domain's deployment is not this one's: tampered
    const bad = new Jar();
    bad.set(SESSION_COOKIE, `${jar.get(SESSION_COOKIE)}x`);
    assert.equal((await at(SUB, 'GET', '/seedream/api/me', { jar: bad })).status, 401);
});

test('signing out clears the domain cookie and the host-only one', async () => {
    const { jar } = await signIn('/');
    const c = jar.apply(await at(MAIN, 'GET', '/api/auth/csrf', { jar }));
    const res = await at(MAIN, 'POST', '/api/auth/signout', {
        jar, headers: { ...FORM, Origin: MAIN_ORIGIN },
        body: new URLSearchParams({ csrfToken: c.json().csrfToken, callbackUrl: `${SUB_ORIGIN}/seedream/` }).toString(),
    });
    assert.equal(res.status, 302, res.text);
    assert.equal(res.headers.location, `${SUB_ORIGIN}/seedream/`);
    const cleared = res.setCookies.map(parseSetCookie).filter((x) => x.name === SESSION_COOKIE);
    assert.ok(cleared.some((x) => x.attrs.domain === DOMAIN && x.value === ''), 'the domain cookie cleared');
    assert.ok(cleared.some((x) => x.attrs.domain === undefined && x.value === ''), 'a host-only one cleared too');
    // and the old cookie is refused on the subdomain within the revocation delay
    let status = 200;
    for (let i = 0; i < 40 && status !== 401; i++) {
        status = (await at(SUB, 'GET', '/seedream/api/me', { jar })).status;
        if (status !== 401) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 401);
});

// The shared header on the subdomain: "/" there is the module (the
// template's redirect), so Dashboard and the brand led back to the module
// and the dashboard could not be reached from it (found by the phase2
// probe).  The platform's links go to the platform's origin; on the
// platform's own origin they stay relative.
test('on the subdomain the header\'s platform links go to the platform\'s origin', async () => {
    const { jar } = await signIn('/');
    const hrefs = (html) => Object.fromEntries(
        [...html.matchAll(/<a (?:class="([^"]*)" )?href="([^"]*)"/g)].map((m) => [m[1] || m[2], m[2]]));
    const sub = await at(SUB, 'GET', '/seedream/', { jar, headers: { Accept: 'text/html' } });
    assert.equal(sub.status, 200);
    const links = hrefs(sub.text);
    assert.equal(links['nb-brand'], `${MAIN_ORIGIN}/`);
    assert.equal(links['nb-dashboard'], `${MAIN_ORIGIN}/`);
    assert.equal(links['nb-billing'], `${MAIN_ORIGIN}/billing`);
    assert.equal(links['nb-settings'], `${MAIN_ORIGIN}/settings`);
    // and Sign out comes back to this page, on the subdomain
    const signout = `${MAIN_ORIGIN}/api/auth/signout?callbackUrl=${encodeURIComponent(`${SUB_ORIGIN}/seedream/`)}`;
    assert.equal(links[signout], signout);
    // followed with the same cookie, Dashboard is the dashboard
    const dash = await at(MAIN, 'GET', new URL(links['nb-dashboard']).pathname, { jar, headers: { Accept: 'text/html' } });
    assert.equal(dash.status, 200);
    assert.match(dash.text, /class="nb-dashboard" href="\/" aria-current="page"/);

    // signed out, a platform page served on the subdomain sends sign-in to the platform
    const out = await at(SUB, 'GET', '/api/auth/error?error=Verification', { headers: { Accept: 'text/html' } });
    assert.match(out.headers['content-type'], /text\/html/);
    assert.ok(hrefs(out.text)[`${MAIN_ORIGIN}/api/auth/signin`], out.text.slice(0, 600));

    const main = hrefs((await at(MAIN, 'GET', '/seedream/', { jar, headers: { Accept: 'text/html' } })).text);
    assert.equal(main['nb-brand'], '/');
    assert.equal(main['nb-dashboard'], '/');
    assert.equal(main['/api/auth/signout?callbackUrl=%2Fseedream%2F'], '/api/auth/signout?callbackUrl=%2Fseedream%2F');
});

// A deployment that sets NANO_COOKIE_DOMAIN after it went live: its
// people hold a host-only session cookie.  A browser keeps a host-only
// cookie and a Domain one of the same name side by side (RFC 6265bis keys
// them apart), so a sign-in or renewal that wrote only the Domain cookie
// left the old one beside it and the next request carried two values: a
// conflict, signed out again (found by the phase2 probe).  Issuing under
// a Domain clears a host-only cookie of that name the request carried.
test('issuing the domain cookie clears a host-only one of the same name', async () => {
    const { jar } = await signIn('/');
    const old = jar.get(SESSION_COOKIE);
    assert.ok(old);
    // the same person signs in again, the browser sending its old cookie
    const again = await signIn('/');
    const c = jar.apply(await at(MAIN, 'GET', '/api/auth/csrf', { jar }));
    const res = await at(MAIN, 'POST', '/api/auth/callback/credentials', {
        jar, headers: { ...FORM, Origin: MAIN_ORIGIN },
        body: new URLSearchParams({
            csrfToken: c.json().csrfToken, email: again.user.email, password: again.user.password, callbackUrl: '/',
        }).toString(),
    });
    assert.equal(res.status, 302, res.text);
    const set = res.setCookies.map(parseSetCookie).filter((x) => x.name === SESSION_COOKIE);
    const issued = set.find((x) => x.value !== '');
    assert.ok(issued && issued.attrs.domain === DOMAIN, 'the new cookie is the domain\'s');
    assert.ok(set.some((x) => x.value === '' && x.attrs.domain === undefined),
        `a host-only one is cleared: ${res.setCookies.join(' | ')}`);
    assert.ok(!set.some((x) => x.value === '' && x.attrs.domain === DOMAIN), 'the new one is not cleared');
    // what the browser would send had the old host-only cookie stayed
    const both = await at(MAIN, 'GET', '/api/auth/session', {
        headers: { Cookie: `${SESSION_COOKIE}=${old}; ${SESSION_COOKIE}=${issued.value}` },
    });
    assert.deepEqual(both.json(), {}, 'two values are a conflict, so it had to go');
});

// Sign-in lives on the platform's origin only (README), but the
// subdomain served the sign-in and sign-up pages too (gateway.conf is
// included), where the module page's own "Sign in" link, relative, took
// people: an OAuth sign-in begun there kept its state cookie on the
// subdomain while the provider returned to the platform's origin, so it
// failed (found by the phase2 probe).  Those pages now go to the
// platform's origin, query and all.
test('the sign-in and sign-up pages asked on the subdomain go to the platform\'s origin', async () => {
    const back = encodeURIComponent(`${SUB_ORIGIN}/seedream/?x=1`);
    for (const p of [`/api/auth/signin?callbackUrl=${back}`, '/api/auth/signin', `/signup?callbackUrl=${back}`]) {
        const r = await at(SUB, 'GET', p, { headers: { Accept: 'text/html' } });
        assert.equal(r.status, 302, `${p}: ${r.text.slice(0, 200)}`);
        assert.equal(r.headers.location, `${MAIN_ORIGIN}${p}`);
        const there = await at(MAIN, 'GET', p, { headers: { Accept: 'text/html' } });
        assert.equal(there.status, 200, p);
    }
    // the rest of the platform's API still answers on the subdomain
    assert.equal((await at(SUB, 'GET', '/api/auth/csrf')).status, 200);
});
