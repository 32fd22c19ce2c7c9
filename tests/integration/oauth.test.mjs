// OAuth / OpenID Connect sign-in (issue 7) against the fake Google
// (tests/fakes/oidc.mjs) and the fake GitHub (tests/fakes/github.mjs)
// that scripts/test.sh starts: whole sign-ins followed redirect by
// redirect with a cookie jar, V1 "Account" rows, GitHub's private
// primary email, OAuthAccountNotLinked, linking and unlinking from
// settings, a first password and deletion after a fresh OAuth sign-in,
// and every refusal (forged state, missing cookies, bad ID tokens, the
// provider's access_denied, unconfigured providers, foreign callbacks).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
    BASE, ORIGIN, STATE, SESSION_COOKIE, Jar, get, request, form, csrf,
    newUser, register, signIn, parseSetCookie, isHtml, stackctl,
} from './lib.mjs';
import { account, psql, lit, FORM, throttleKey } from './accounts.mjs';

const OIDC = process.env.NANO_TEST_OIDC_URL || '';
const GITHUB = process.env.NANO_TEST_GITHUB_URL || '';
const JSON_H = { 'Content-Type': 'application/json', Origin: ORIGIN };

// The platform's GOOGLE_* / GITHUB_* lines, as the stack wrote them
// (GitHub's secret in a file: GITHUB_CLIENT_SECRET_FILE).
const ENV = Object.fromEntries(fs.readFileSync(`${STATE}/env.d/platform`, 'utf8').split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

const tag = () => crypto.randomBytes(5).toString('hex');

// ---- the fakes ---------------------------------------------------------

async function fakePost(base, path, body) {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    return res.json();
}

// A person at the fake Google ({sub, email, name, …}); returns it.
const googleUser = (u) => fakePost(OIDC, '/_fake/users', u);
// A person at the fake GitHub ({login, id, name, email, emails}).
const githubUser = (u) => fakePost(GITHUB, '/_fake/users', u);
const fakeStats = async (base) => (await fetch(`${base}/_fake/stats`)).json();

// ---- a sign-in, redirect by redirect --------------------------------------

// POST /api/auth/signin/<provider> as the sign-in page's form does.
async function startSignIn(jar, provider, { callbackUrl = '/', link, headers = {}, csrfToken } = {}) {
    const token = csrfToken ?? await csrf(jar);
    const fields = { csrfToken: token, callbackUrl };
    if (link) fields.link = '1';
    return jar.apply(await request('POST', `/api/auth/signin/${provider}`, {
        headers: jar.headers({ ...FORM, ...headers }),
        body: form(fields),
    }));
}

// The whole sign-in: the platform's redirect to the provider, the
// provider's (auto-approving) answer with ?who (login_hint / login) and a
// fault, then the callback on the platform with the jar.  edit(url) may
// change the callback URL first.  Returns {start, authorize, callback,
// res (the callback's answer), location}.
async function oauthSignIn(jar, provider, { who, fault, callbackUrl, link, edit } = {}) {
    const start = await startSignIn(jar, provider, { callbackUrl, link });
    assert.equal(start.status, 302, `sign-in start: ${start.status} ${start.text.slice(0, 200)}`);
    const authorize = new URL(start.headers.location);
    if (who) authorize.searchParams.set(provider === 'google' ? 'login_hint' : 'login', who);
    if (fault) authorize.searchParams.set('fake_fault', fault);
    const at = await fetch(authorize, { redirect: 'manual' });
    assert.equal(at.status, 302, `the provider answered ${at.status}: ${await at.text()}`);
    let callback = new URL(at.headers.get('location'));
    assert.equal(callback.origin, ORIGIN, 'the provider sends the browser back to the platform');
    if (edit) callback = new URL(edit(callback));
    const res = jar.apply(await get(callback.pathname + callback.search, { headers: jar.headers() }));
    return { start, authorize, callback, res, location: res.headers.location ? new URL(res.headers.location, BASE) : null };
}

const session = async (jar) => (await get('/api/auth/session', { headers: jar.headers() })).json();
const me = async (jar) => (await get('/qwen/api/me', { headers: jar.headers() })).json();

function sessionSet(res) {
    const c = res.setCookies.map(parseSetCookie).find((x) => x.name === SESSION_COOKIE);
    return Boolean(c && c.value);
}

function assertRefused(r, error, what) {
    assert.equal(r.res.status, 302, `${what}: ${r.res.status} ${r.res.text.slice(0, 200)}`);
    assert.equal(r.location.pathname, '/api/auth/error', what);
    assert.equal(r.location.searchParams.get('error'), error, what);
    assert.ok(!sessionSet(r.res), `${what}: no session cookie`);
}

const accountRows = (provider, pid) => psql(`SELECT "userId", "type" FROM "Account" WHERE "provider" = ${lit(provider)} AND "providerAccountId" = ${lit(pid)}`);
const userIdOf = (email) => psql(`SELECT "id" FROM "User" WHERE lower("email") = lower(${lit(email)})`);

before(() => {
    assert.ok(OIDC && GITHUB, 'NANO_TEST_OIDC_URL and NANO_TEST_GITHUB_URL are set (scripts/test.sh starts the fakes)');
    assert.ok(ENV.GOOGLE_CLIENT_ID && ENV.GITHUB_CLIENT_ID, 'the platform is configured for both');
});

// ---- configuration and pages --------------------------------------------------

test('providers: credentials and the configured OAuth providers, in NextAuth\'s shape', async () => {
    const p = (await get('/api/auth/providers')).json();
    assert.deepEqual(Object.keys(p).sort(), ['credentials', 'github', 'google']);
    assert.deepEqual(p.google, {
        id: 'google', name: 'Google', type: 'oauth',
        signinUrl: `${ORIGIN}/api/auth/signin/google`, callbackUrl: `${ORIGIN}/api/auth/callback/google`,
    });
    assert.deepEqual(p.github, {
        id: 'github', name: 'GitHub', type: 'oauth',
        signinUrl: `${ORIGIN}/api/auth/signin/github`, callbackUrl: `${ORIGIN}/api/auth/callback/github`,
    });
});

test('the sign-in page has a form per provider posting the CSRF token; /api/auth/signin/<p> is a page of its own', async () => {
    const jar = new Jar();
    const page = jar.apply(await get('/api/auth/signin?callbackUrl=%2Fqwen%2F', { headers: { Accept: 'text/html' } }));
    assert.equal(page.status, 200);
    const token = jar.get('next-auth.csrf-token').split(/%7C|\|/)[0];
    for (const [id, name] of [['google', 'Google'], ['github', 'GitHub']]) {
        const m = new RegExp(`<form[^>]*action="/api/auth/signin/${id}"[^>]*>([\\s\\S]*?)</form>`).exec(page.text);
        assert.ok(m, `a form for ${id}`);
        assert.match(m[0], /method="post"/);
        assert.match(m[1], new RegExp(`name="csrfToken" value="${token}"`));
        assert.match(m[1], /name="callbackUrl" value="http:\/\/[^"]+\/qwen\/"/);
        assert.match(m[1], new RegExp(`>Continue with ${name}<`));
    }
    const one = await get('/api/auth/signin/github?link=1', { headers: { Accept: 'text/html' } });
    assert.equal(one.status, 200);
    assert.ok(isHtml(one));
    assert.match(one.text, /Link your GitHub account/);
    assert.match(one.text, />Link GitHub</);
    assert.match(one.text, /name="link" value="1"/);
    assert.match(one.text, /name="csrfToken" value="[0-9a-f]{64}"/);
});

test('an unconfigured provider is 404 at every route', async () => {
    const jar = new Jar();
    const token = await csrf(jar);
    for (const res of [
        await get('/api/auth/signin/facebook'),
        await request('POST', '/api/auth/signin/facebook', { headers: jar.headers(FORM), body: form({ csrfToken: token }) }),
        await get('/api/auth/callback/facebook?code=x&state=y'),
    ]) {
        assert.equal(res.status, 404, res.text);
        assert.equal(res.json().error, 'not_found');
    }
    // and the credentials routes are what they were
    assert.equal((await get('/api/auth/callback/credentials')).status, 405);
});

// ---- Google -------------------------------------------------------------------

test('Google: a whole sign-in creates the user and its "Account" row as NextAuth does, and signs in', async () => {
    const t = tag();
    const person = await googleUser({ sub: `10${BigInt('0x' + t)}`, email: `Goo.${t}@Gmail.example`, name: `Grace Hopper ${t}` });
    const jar = new Jar();
    const r = await oauthSignIn(jar, 'google', { who: person.email, callbackUrl: '/qwen/' });

    // the redirect to Google: code flow, PKCE S256, state, nonce; the three
    // cookies short-lived, HttpOnly, Lax, named as NextAuth names them
    const q = r.authorize.searchParams;
    assert.equal(r.authorize.origin, new URL(OIDC).origin);
    assert.equal(r.authorize.pathname, '/o/oauth2/v2/auth');
    assert.equal(q.get('client_id'), ENV.GOOGLE_CLIENT_ID);
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('scope'), 'openid email profile');
    assert.equal(q.get('redirect_uri'), `${ORIGIN}/api/auth/callback/google`);
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.get('state'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.get('nonce'), /^[A-Za-z0-9_-]{43}$/);
    const set = Object.fromEntries(r.start.setCookies.map(parseSetCookie).map((c) => [c.name, c]));
    for (const name of ['next-auth.state', 'next-auth.pkce.code_verifier', 'next-auth.nonce']) {
        const c = set[name];
        assert.ok(c && c.value, `${name} is set`);
        assert.ok(c.attrs.httponly && c.attrs.samesite === 'Lax' && c.attrs.path === '/', `${name}: ${JSON.stringify(c.attrs)}`);
        const life = (Date.parse(c.attrs.expires) - Date.now()) / 1000;
        assert.ok(life > 800 && life <= 901, `${name} lives 15 minutes (${life})`);
        assert.ok(!c.value.includes(q.get('state')) && !c.value.includes(q.get('nonce')), `${name} does not show its value in clear`);
    }

    // the callback: session issued, the three cookies cleared, sent on
    assert.equal(r.res.status, 302, r.res.text);
    assert.equal(r.location.href, `${ORIGIN}/qwen/`);
    assert.ok(sessionSet(r.res));
    const cleared = r.res.setCookies.map(parseSetCookie).filter((c) => c.name.startsWith('next-auth.') && c.value === '').map((c) => c.name);
    assert.deepEqual(cleared.sort(), ['next-auth.nonce', 'next-auth.pkce.code_verifier', 'next-auth.state']);
    const s = await session(jar);
    assert.equal(s.user.email, person.email.toLowerCase());
    assert.equal(s.user.name, person.name);
    assert.equal(s.user.image, person.picture);

    // the token request: client_secret_basic, the verifier, the redirect_uri
    const tok = (await fakeStats(OIDC)).last.token;
    assert.equal(tok.auth, 'client_secret_basic');
    assert.equal(tok.form.grant_type, 'authorization_code');
    assert.equal(tok.form.redirect_uri, `${ORIGIN}/api/auth/callback/google`);
    assert.equal(crypto.createHash('sha256').update(tok.form.code_verifier).digest('base64url'), q.get('code_challenge'));

    // the rows, as NextAuth's Prisma adapter writes them
    const id = (await me(jar)).id;
    const u = psql(`SELECT "email", "name", "image", "emailVerified" IS NULL, "password" IS NULL FROM "User" WHERE "id" = ${lit(id)}`);
    assert.equal(u, `${person.email.toLowerCase()}|${person.name}|${person.picture}|t|t`);
    const a = psql(`SELECT "id", "userId", "type", "provider", "providerAccountId", "token_type", "expires_at" > extract(epoch from now()), "access_token" LIKE 'ya29.%', "id_token" LIKE 'eyJ%', "scope" LIKE 'openid %' FROM "Account" WHERE "userId" = ${lit(id)}`).split('|');
    assert.match(a[0], /^c[0-9a-z]{24}$/, 'a cuid-like id');
    assert.deepEqual(a.slice(1), [id, 'oauth', 'google', person.sub, 'Bearer', 't', 't', 't', 't']);
    assert.equal(psql(`SELECT "method" FROM "AuthSession" WHERE "userId" = ${lit(id)}`), 'google');
    // the sign-up credits, as registration gives them
    assert.equal((await get('/api/credits', { headers: jar.headers() })).json().balance, 100);

    // signing in again finds the same user through the row
    const before = (await fakeStats(OIDC)).requests;
    const again = new Jar();
    const r2 = await oauthSignIn(again, 'google', { who: person.email });
    assert.equal(r2.location.href, `${ORIGIN}/`);
    assert.equal((await me(again)).id, id);
    assert.equal(psql(`SELECT count(*) FROM "User" WHERE lower("email") = lower(${lit(person.email)})`), '1');
    // discovery and keys come from the cache the second time
    const after = (await fakeStats(OIDC)).requests;
    assert.equal(after.discovery, before.discovery, 'discovery cached');
    assert.equal(after.jwks, before.jwks, 'keys cached');
    assert.equal(after.token, before.token + 1);
});

test('Google: a V1 user with an "Account" row signs in as that same user', async () => {
    const t = tag();
    const v1 = { id: `ckv1${t}0000000000000`, email: `v1.${t}@example.com`, name: `V1 Person ${t}`, sub: `1177${BigInt('0x' + t)}` };
    // as V1 (NextAuth + Prisma) wrote them: its Google address has since changed
    psql(`INSERT INTO "User" ("id", "name", "email", "emailVerified", "image") VALUES (${lit(v1.id)}, ${lit(v1.name)}, ${lit(v1.email)}, NULL, NULL)`);
    psql(`INSERT INTO "Account" ("id", "userId", "type", "provider", "providerAccountId", "access_token", "expires_at", "token_type", "scope", "id_token")
          VALUES (${lit(`clacc${t}00000000000000`)}, ${lit(v1.id)}, 'oauth', 'google', ${lit(v1.sub)}, 'ya29.old', 1700000000, 'Bearer', 'openid email profile', 'eyJold')`);
    await googleUser({ sub: v1.sub, email: `renamed.${t}@gmail.example`, name: 'Another Name' });
    const jar = new Jar();
    const r = await oauthSignIn(jar, 'google', { who: `renamed.${t}@gmail.example` });
    assert.equal(r.location.href, `${ORIGIN}/`);
    const m = await me(jar);
    assert.equal(m.id, v1.id);
    assert.equal(m.email, v1.email);
    assert.equal(m.name, v1.name);
    // nothing new: no second user, no second row, V1's row untouched
    assert.equal(userIdOf(`renamed.${t}@gmail.example`), '');
    assert.equal(psql(`SELECT count(*), max("access_token") FROM "Account" WHERE "userId" = ${lit(v1.id)}`), '1|ya29.old');
});

// ---- GitHub -------------------------------------------------------------------

// A GitHub App's user tokens expire (expires_in 28800, with a refresh
// token); the expiry is kept as NextAuth keeps it, unix seconds.  Until
// 2026-12-06 GitHub's expires_in was added to the clock unchecked: a
// huge one overflowed the sum (undefined in C), a negative one kept an
// expiry in the past.  Now as Google's: none unless 0 < expires_in < 10
// years (found by the fuzz probe).
test('GitHub: an expiring token keeps its expiry; a negative or huge expires_in keeps none', async () => {
    const t = tag();
    const cases = [[28800, 'kept'], [-60, null], [9223372036854000000, null]];
    for (const [i, [expiresIn, want]] of cases.entries()) {
        const gh = await githubUser({ login: `exp${i}-${t}`, name: `Exp ${t}`, email: `exp${i}.${t}@users.example`, expires_in: expiresIn });
        const jar = new Jar();
        const r = await oauthSignIn(jar, 'github', { who: gh.login });
        assert.equal(r.location.href, `${ORIGIN}/`, `expires_in ${expiresIn}: signed in`);
        const m = await me(jar);
        const [at, now] = psql(`SELECT coalesce("expires_at"::text, ''), extract(epoch from now())::bigint FROM "Account" WHERE "userId" = ${lit(m.id)}`).split('|');
        if (want === null) {
            assert.equal(at, '', `expires_in ${expiresIn}: no expiry kept`);
        } else {
            const left = Number(at) - Number(now);
            assert.ok(left > 28700 && left <= 28800, `expires_in 28800: ${left} s left`);
        }
    }
});

test('GitHub: a private primary email comes from /user/emails; name falls back to the login', async () => {
    const t = tag();
    const gh = await githubUser({
        login: `octo-${t}`, name: null, email: null,
        emails: [
            { email: `other.${t}@users.example`, primary: false, verified: true, visibility: null },
            { email: `unverified.${t}@users.example`, primary: false, verified: false, visibility: null },
            { email: `Primary.${t}@Users.example`, primary: true, verified: true, visibility: 'private' },
        ],
    });
    const jar = new Jar();
    const r = await oauthSignIn(jar, 'github', { who: gh.login, callbackUrl: '/grok/' });
    const q = r.authorize.searchParams;
    assert.equal(r.authorize.pathname, '/login/oauth/authorize');
    assert.equal(q.get('scope'), 'read:user user:email');
    assert.equal(q.get('client_id'), ENV.GITHUB_CLIENT_ID);
    assert.match(q.get('state'), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(q.get('code_challenge'), null, 'no PKCE for GitHub, as NextAuth v4');
    assert.ok(!r.start.setCookies.some((c) => /pkce|nonce/.test(c)), 'only the state cookie');

    assert.equal(r.location.href, `${ORIGIN}/grok/`);
    const m = await me(jar);
    assert.equal(m.email, `primary.${t}@users.example`);
    assert.equal(m.name, gh.login);
    assert.equal(accountRows('github', String(gh.id)), `${m.id}|oauth`);
    assert.equal(psql(`SELECT "token_type", "scope", "access_token" LIKE 'gho_%' FROM "Account" WHERE "userId" = ${lit(m.id)}`), 'bearer|read:user,user:email|t');
    const st = await fakeStats(GITHUB);
    assert.equal(st.last.emails.userAgent, 'nano-platform');
    assert.equal(st.last.token.accept, 'application/json');
});

test('GitHub: a public profile email is used as it is; no verified primary address means no new user', async () => {
    const t = tag();
    const pub = await githubUser({ login: `pub-${t}`, name: `Pub ${t}`, email: `pub.${t}@users.example` });
    let jar = new Jar();
    await oauthSignIn(jar, 'github', { who: pub.login });
    assert.equal((await me(jar)).email, `pub.${t}@users.example`);

    const none = await githubUser({ login: `none-${t}`, email: null, emails: [{ email: `nv.${t}@users.example`, primary: true, verified: false, visibility: 'private' }] });
    jar = new Jar();
    const r = await oauthSignIn(jar, 'github', { who: none.login });
    assertRefused(r, 'OAuthCreateAccount', 'no verified email');
    assert.equal(accountRows('github', String(none.id)), '');
});

test('a provider\'s name is kept as sign-up would take it: direction controls left out, cut at 100 characters', async () => {
    const t = tag();
    // U+202E would turn the header's text around; a Cyrillic name of 150
    // characters is 300 bytes
    const gh = await githubUser({ login: `bidi-${t}`, name: `\u202Eevil\u202C ${'Ж'.repeat(150)}`, email: `bidi.${t}@users.example` });
    const jar = new Jar();
    await oauthSignIn(jar, 'github', { who: gh.login });
    const m = await me(jar);
    assert.equal(m.name, `evil ${'Ж'.repeat(95)}`);
    assert.equal(psql(`SELECT "name" FROM "User" WHERE "id" = ${lit(m.id)}`), m.name);

    const person = await googleUser({ email: `iso.${t}@gmail.example`, name: `Grace\u2066 Hopper\u2069 ${t}` });
    const gjar = new Jar();
    await oauthSignIn(gjar, 'google', { who: person.email });
    assert.equal((await me(gjar)).name, `Grace Hopper ${t}`);

    // blanks of any kind at the ends go, as at sign-up
    const ada = await googleUser({ email: `blank.${t}@gmail.example`, name: `\u00a0\u200bAda ${t}\u3000` });
    const ajar = new Jar();
    await oauthSignIn(ajar, 'google', { who: ada.email });
    assert.equal((await me(ajar)).name, `Ada ${t}`);
});

// ---- collisions and links ---------------------------------------------------------

test('OAuthAccountNotLinked: a new provider account whose email belongs to a user is refused', async () => {
    const user = newUser('collide');
    assert.equal((await register(user)).status, 201);
    const person = await googleUser({ email: user.email.toUpperCase(), name: 'Someone Else' });
    const jar = new Jar();
    const r = await oauthSignIn(jar, 'google', { who: person.email });
    assertRefused(r, 'OAuthAccountNotLinked', 'email collision');
    assert.equal(accountRows('google', person.sub), '');
    // the error page sends the browser to the sign-in page, which says why
    const err = await get('/api/auth/error?error=OAuthAccountNotLinked', { headers: { Accept: 'text/html' } });
    assert.equal(err.status, 302);
    const page = await get(new URL(err.headers.location).pathname + new URL(err.headers.location).search, { headers: { Accept: 'text/html' } });
    assert.match(page.text, /already exists/);
    assert.equal(Object.keys(await session(jar)).length, 0, 'not signed in');
});

test('linking from settings while signed in, then signing in with it', async () => {
    const user = newUser('linker');
    assert.equal((await register(user)).status, 201);
    const jar = new Jar();
    await signIn(jar, user.email, user.password);
    const uid = (await me(jar)).id;
    const t = tag();
    // the GitHub account's email is the user's own: a link, not a collision
    const gh = await githubUser({ login: `link-${t}`, name: `Link ${t}`, email: user.email });
    const r = await oauthSignIn(jar, 'github', { who: gh.login, link: true, callbackUrl: '/settings' });
    assert.equal(r.res.status, 302, r.res.text);
    assert.equal(r.location.href, `${ORIGIN}/settings`);
    assert.ok(!sessionSet(r.res), 'the session stays as it was');
    assert.equal(accountRows('github', String(gh.id)), `${uid}|oauth`);
    assert.equal((await me(jar)).id, uid, 'still signed in as before');

    const c = await get('/api/account/connections', { headers: jar.headers() });
    assert.equal(c.status, 200);
    assert.deepEqual(c.json(), {
        connections: [{ provider: 'github', providerAccountId: String(gh.id) }],
        providers: [{ id: 'google', name: 'Google' }, { id: 'github', name: 'GitHub' }],
        hasPassword: true,
    });

    // signing in with the linked account is signing in as the user
    const other = new Jar();
    const s = await oauthSignIn(other, 'github', { who: gh.login });
    assert.equal(s.location.href, `${ORIGIN}/`);
    assert.equal((await me(other)).id, uid);
    assert.equal(psql(`SELECT "method" FROM "AuthSession" WHERE "userId" = ${lit(uid)} ORDER BY "createdAt" DESC LIMIT 1`), 'github');

    // linking it again is a no-op; linking it to another user is refused
    const again = await oauthSignIn(jar, 'github', { who: gh.login, link: true, callbackUrl: '/settings' });
    assert.equal(again.location.href, `${ORIGIN}/settings`);
    const user2 = newUser('linker2');
    assert.equal((await register(user2)).status, 201);
    const jar2 = new Jar();
    await signIn(jar2, user2.email, user2.password);
    const stolen = await oauthSignIn(jar2, 'github', { who: gh.login, link: true });
    assertRefused(stolen, 'OAuthAccountNotLinked', 'an account linked to another user');
    assert.equal(accountRows('github', String(gh.id)), `${uid}|oauth`);
});

test('a link is bound to the user who started it, not to a parameter', async () => {
    const a = newUser('binda');
    const b = newUser('bindb');
    assert.equal((await register(a)).status, 201);
    assert.equal((await register(b)).status, 201);
    const jarA = new Jar();
    const jarB = new Jar();
    await signIn(jarA, a.email, a.password);
    await signIn(jarB, b.email, b.password);
    const t = tag();
    const person = await googleUser({ email: `bind.${t}@gmail.example` });

    // A starts a link; B's browser ends it (B's session, A's state cookie)
    const start = await startSignIn(jarA, 'google', { link: true });
    assert.equal(start.status, 302);
    const authorize = new URL(start.headers.location);
    authorize.searchParams.set('login_hint', person.email);
    const back = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location'));
    const mixed = new Jar();
    for (const [k, v] of jarA.cookies) if (k !== SESSION_COOKIE) mixed.set(k, v);
    mixed.set(SESSION_COOKIE, jarB.get(SESSION_COOKIE));
    const res = await get(back.pathname + back.search, { headers: mixed.headers() });
    assert.equal(res.status, 302);
    assert.equal(new URL(res.headers.location).searchParams.get('error'), 'SessionRequired');
    assert.equal(accountRows('google', person.sub), '');

    // ?link=1 on the callback is no link: a plain sign-in (a new user here)
    const jarC = new Jar();
    await signIn(jarC, a.email, a.password);
    const plain = await oauthSignIn(jarC, 'google', { who: person.email, edit: (u) => `${u}&link=1` });
    assert.equal(plain.location.href, `${ORIGIN}/`);
    assert.notEqual(accountRows('google', person.sub).split('|')[0], userIdOf(a.email));

    // a link needs a session to start: 401 with json=true, as signIn() reads it
    const anon = new Jar();
    const token = await csrf(anon);
    const r = await request('POST', '/api/auth/signin/google', {
        headers: anon.headers(JSON_H), body: JSON.stringify({ csrfToken: token, link: '1', json: 'true' }),
    });
    assert.equal(r.status, 401);
    assert.match(r.json().url, /\/api\/auth\/signin\?error=SessionRequired$/);
});

test('a link needs a sign-in from the last 10 minutes: a stolen cookie alone adds no way in', async () => {
    // a credentials user whose session is 11 minutes old (or a copy of
    // its cookie in someone else's hands)
    const user = newUser('linkstale');
    assert.equal((await register(user)).status, 201);
    const jar = new Jar();
    await signIn(jar, user.email, user.password);
    const uid = (await me(jar)).id;
    const age = () => psql(`UPDATE "AuthSession" SET "createdAt" = "createdAt" - interval '11 minutes' WHERE "userId" = ${lit(uid)}`);
    age();
    const t = tag();
    const gh = await githubUser({ login: `stale-${t}`, email: `stale.${t}@users.example` });
    const before = await fakeStats(GITHUB);

    // the form: to the sign-in page, which says why, then back to the
    // provider's link page (and on to /settings); no sign-in in flight
    const res = await startSignIn(jar, 'github', { link: true, callbackUrl: '/settings' });
    assert.equal(res.status, 302, res.text);
    const to = new URL(res.headers.location);
    assert.equal(to.origin + to.pathname, `${ORIGIN}/api/auth/signin`);
    assert.equal(to.searchParams.get('error'), 'ReauthRequired');
    const back = new URL(to.searchParams.get('callbackUrl'), BASE);
    assert.equal(back.pathname, '/api/auth/signin/github');
    assert.equal(back.searchParams.get('link'), '1');
    assert.equal(back.searchParams.get('callbackUrl'), `${ORIGIN}/settings`);
    assert.ok(!res.setCookies.map(parseSetCookie).some((c) => c.name === 'next-auth.state' && c.value), 'no state cookie');
    assert.deepEqual(await fakeStats(GITHUB), before, 'the provider was not involved');
    const page = await get(to.pathname + to.search, { headers: jar.headers({ Accept: 'text/html' }) });
    assert.equal(page.status, 200);
    assert.match(page.text, /sign in again first/);
    assert.ok(page.text.includes('/api/auth/signin/github?link=1'), 'the sign-in form goes back to the link page');
    // the error page sends it to the sign-in page, as NextAuth's codes
    const err = await get('/api/auth/error?error=ReauthRequired', { headers: { Accept: 'text/html' } });
    assert.equal(err.status, 302);
    assert.equal(new URL(err.headers.location).searchParams.get('error'), 'ReauthRequired');

    // json=true (signIn()): 403 with the same url
    const token = await csrf(jar);
    const j = await request('POST', '/api/auth/signin/github', {
        headers: jar.headers(JSON_H), body: JSON.stringify({ csrfToken: token, link: '1', json: 'true', callbackUrl: '/settings' }),
    });
    assert.equal(j.status, 403, j.text);
    assert.equal(j.json().url, res.headers.location);
    assert.equal(accountRows('github', String(gh.id)), '');

    // signed in again just now: the link goes through
    const again = new Jar();
    await signIn(again, user.email, user.password);
    const r = await oauthSignIn(again, 'github', { who: gh.login, link: true, callbackUrl: '/settings' });
    assert.equal(r.location.href, `${ORIGIN}/settings`);
    assert.equal(accountRows('github', String(gh.id)), `${uid}|oauth`);

    // an OAuth sign-in is a sign-in too; a session row that no sign-in
    // made (a token from before rows were kept, renewed) is none
    const person = await googleUser({ email: `stale.${t}@gmail.example` });
    const gj = new Jar();
    await oauthSignIn(gj, 'google', { who: person.email });
    const gid = (await me(gj)).id;
    const gh2 = await githubUser({ login: `stale2-${t}`, email: `stale2.${t}@users.example` });
    psql(`UPDATE "AuthSession" SET "method" = NULL WHERE "userId" = ${lit(gid)}`);
    const none = await startSignIn(gj, 'github', { link: true });
    assert.equal(new URL(none.headers.location).searchParams.get('error'), 'ReauthRequired');
    psql(`UPDATE "AuthSession" SET "method" = 'google' WHERE "userId" = ${lit(gid)}`);
    await oauthSignIn(gj, 'github', { who: gh2.login, link: true });
    assert.equal(accountRows('github', String(gh2.id)), `${gid}|oauth`);
});

test('unlinking, and the 409 when it would leave no way to sign in', async () => {
    const t = tag();
    // an OAuth-only user (Google) who links GitHub too
    const person = await googleUser({ email: `unlink.${t}@gmail.example`, name: `Unlink ${t}` });
    const jar = new Jar();
    await oauthSignIn(jar, 'google', { who: person.email });
    const uid = (await me(jar)).id;
    const gh = await githubUser({ login: `unl-${t}`, email: `unl.${t}@users.example` });
    await oauthSignIn(jar, 'github', { who: gh.login, link: true });
    let c = (await get('/api/account/connections', { headers: jar.headers() })).json();
    assert.deepEqual(c.connections.map((x) => x.provider), ['github', 'google']);
    assert.equal(c.hasPassword, false);

    // refusals first: cross-site, no session, not linked
    let res = await account('DELETE', '/api/account/connections/github', jar, {}, { Origin: 'https://evil.example' });
    assert.equal(res.status, 403);
    assert.equal(res.json().error, 'cross_site');
    res = await account('DELETE', '/api/account/connections/github', null);
    assert.equal(res.status, 401);
    res = await account('DELETE', '/api/account/connections/facebook', jar);
    assert.equal(res.status, 404);
    assert.equal(res.json().error, 'not_linked');

    res = await request('DELETE', '/api/account/connections/github', { headers: jar.headers({ Origin: ORIGIN }) });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { ok: true });
    assert.equal(accountRows('github', String(gh.id)), '');
    res = await account('DELETE', '/api/account/connections/google', jar);
    assert.equal(res.status, 409);
    assert.equal(res.json().error, 'last_sign_in_method');
    assert.match(res.json().message, /only way to sign in/);
    assert.equal(accountRows('google', person.sub), `${uid}|oauth`);
    res = await account('DELETE', '/api/account/connections/github', jar);
    assert.equal(res.status, 404);

    // with a password, the last connection may go
    const user = newUser('unlinkpw');
    assert.equal((await register(user)).status, 201);
    const pj = new Jar();
    await signIn(pj, user.email, user.password);
    const gh2 = await githubUser({ login: `unl2-${t}`, email: user.email });
    await oauthSignIn(pj, 'github', { who: gh2.login, link: true });
    res = await account('DELETE', '/api/account/connections/github', pj);
    assert.equal(res.status, 200);
    c = (await get('/api/account/connections', { headers: pj.headers() })).json();
    assert.deepEqual(c.connections, []);
    assert.equal(c.hasPassword, true);
});

// ---- first password, deletion ----------------------------------------------------

test('a first password after a fresh OAuth sign-in; refused when the sign-in is not fresh', async () => {
    const t = tag();
    const person = await googleUser({ email: `firstpw.${t}@gmail.example`, name: `First ${t}` });
    const jar = new Jar();
    await oauthSignIn(jar, 'google', { who: person.email });
    const uid = (await me(jar)).id;

    // not fresh: the session's row says it began 11 minutes ago
    psql(`UPDATE "AuthSession" SET "createdAt" = "createdAt" - interval '11 minutes' WHERE "userId" = ${lit(uid)}`);
    let res = await account('POST', '/api/account/password', jar, { newPassword: `pw-${t}-long-enough` });
    assert.equal(res.status, 403);
    assert.equal(res.json().error, 'reauth_required');
    assert.match(res.json().message, /sign in again/);
    assert.equal(psql(`SELECT "password" IS NULL FROM "User" WHERE "id" = ${lit(uid)}`), 't');

    // a fresh sign-in: allowed, and the password then signs in
    const fresh = new Jar();
    await oauthSignIn(fresh, 'google', { who: person.email });
    res = await account('POST', '/api/account/password', fresh, { newPassword: 'short' });
    assert.equal(res.status, 400);
    assert.equal(res.json().error, 'invalid_password');
    res = fresh.apply(await account('POST', '/api/account/password', fresh, { newPassword: `pw-${t}-long-enough` }));
    assert.equal(res.status, 200, res.text);
    assert.match(psql(`SELECT "password" FROM "User" WHERE "id" = ${lit(uid)}`), /^\$2b\$12\$/);
    assert.equal((await me(fresh)).id, uid, 'this browser stays signed in');
    const pj = new Jar();
    const s = await signIn(pj, person.email, `pw-${t}-long-enough`);
    assert.equal(s.status, 302);
    assert.equal((await me(pj)).id, uid);

    // once there is a password, a change needs it, fresh or not
    res = await account('POST', '/api/account/password', fresh, { newPassword: `pw2-${t}-long-enough` });
    assert.equal(res.status, 400);
    assert.equal(res.json().error, 'invalid_field');
});

test('deletion with no password after a fresh OAuth sign-in; reauth_required otherwise', async () => {
    const t = tag();
    // a credentials session is never fresh OAuth
    const user = newUser('delcred');
    assert.equal((await register(user)).status, 201);
    const cj = new Jar();
    await signIn(cj, user.email, user.password);
    let res = await account('DELETE', '/api/account', cj, {});
    assert.equal(res.status, 403);
    assert.equal(res.json().error, 'reauth_required');
    assert.match(res.json().message, /give your password/, 'one with a password is told to give it');
    assert.equal(psql(`SELECT "method" FROM "AuthSession" WHERE "userId" = ${lit((await me(cj)).id)}`), 'credentials');

    const person = await googleUser({ email: `delete.${t}@gmail.example`, name: `Delete ${t}` });
    const jar = new Jar();
    await oauthSignIn(jar, 'google', { who: person.email });
    const uid = (await me(jar)).id;
    const gh = await githubUser({ login: `del-${t}`, email: `del.${t}@users.example` });
    await oauthSignIn(jar, 'github', { who: gh.login, link: true });
    psql(`UPDATE "AuthSession" SET "createdAt" = "createdAt" - interval '11 minutes' WHERE "userId" = ${lit(uid)}`);
    res = await account('DELETE', '/api/account', jar, {});
    assert.equal(res.status, 403);
    assert.equal(res.json().error, 'reauth_required');
    assert.match(res.json().message, /without a password, sign in again with a connected account/);

    // as V1 stored it, mixed case, with a sign-in lock counted under the
    // normalised email: the deletion cleared the raw one's key, and the
    // lock waited for whoever registered that email next
    const mixed = `Delete.${t}@GMail.Example`;
    psql(`UPDATE "User" SET "email" = ${lit(mixed)} WHERE "id" = ${lit(uid)}`);
    psql(`INSERT INTO "SignInThrottle" ("key", "attempts", "windowStart", "lockedUntil")
          VALUES (${lit(throttleKey(mixed))}, 11, extract(epoch FROM now())::bigint,
                  extract(epoch FROM now())::bigint + 60)`);

    const fresh = new Jar();
    await oauthSignIn(fresh, 'google', { who: person.email });
    res = await account('DELETE', '/api/account', fresh, {});
    assert.equal(res.status, 200, res.text);
    assert.equal(psql(`SELECT count(*) FROM "User" WHERE "id" = ${lit(uid)}`), '0');
    assert.equal(psql(`SELECT count(*) FROM "Account" WHERE "userId" = ${lit(uid)}`), '0');
    assert.equal(psql(`SELECT count(*) FROM "SignInThrottle" WHERE "key" = ${lit(throttleKey(mixed))}`), '0',
        'the sign-in lock goes with the account');
    assert.equal(Object.keys(await session(fresh)).length, 0);
    // the provider account is free again: signing in makes a new user
    const again = new Jar();
    await oauthSignIn(again, 'google', { who: person.email });
    assert.notEqual((await me(again)).id, uid);
});

// ---- refusals ------------------------------------------------------------------------

test('a forged state, a missing state cookie, or a replayed callback is refused', async () => {
    const person = await googleUser({ email: `state.${tag()}@gmail.example` });
    let jar = new Jar();
    let r = await oauthSignIn(jar, 'google', { who: person.email, edit: (u) => { u.searchParams.set('state', 'A'.repeat(43)); return u; } });
    assertRefused(r, 'OAuthCallback', 'forged state');
    assert.equal(accountRows('google', person.sub), '', 'no user made');

    jar = new Jar();
    r = await oauthSignIn(jar, 'google', {
        who: person.email,
        edit: (u) => { jar.cookies.delete('next-auth.state'); return u; },
    });
    assertRefused(r, 'OAuthCallback', 'missing state cookie');

    // a state cookie sealed for GitHub does not open for Google
    jar = new Jar();
    await startSignIn(jar, 'github');
    const ghState = jar.get('next-auth.state');
    r = await oauthSignIn(jar, 'google', { who: person.email, edit: (u) => { jar.set('next-auth.state', ghState); return u; } });
    assertRefused(r, 'OAuthCallback', 'another provider\'s state cookie');

    // a missing PKCE verifier or nonce cookie
    for (const name of ['next-auth.pkce.code_verifier', 'next-auth.nonce']) {
        jar = new Jar();
        r = await oauthSignIn(jar, 'google', { who: person.email, edit: (u) => { jar.cookies.delete(name); return u; } });
        assertRefused(r, 'OAuthCallback', `missing ${name}`);
    }

    // a whole sign-in, then its callback again (cookies cleared, code used)
    jar = new Jar();
    const saved = new Jar();
    r = await oauthSignIn(jar, 'google', {
        who: person.email,
        edit: (u) => { for (const [k, v] of jar.cookies) saved.set(k, v); return u; },
    });
    assert.ok(sessionSet(r.res));
    const replay = await get(r.callback.pathname + r.callback.search, { headers: saved.headers() });
    assert.equal(replay.status, 302);
    assert.equal(new URL(replay.headers.location).searchParams.get('error'), 'OAuthCallback');
});

// The database out of reach when the provider sends the browser back:
// the callback answered 503 JSON, which a browser showed as text; NextAuth
// sends a failed callback to its error page (error=Callback).
test('a callback while the database is down goes to the error page (ServiceUnavailable), not JSON', async () => {
    const person = await googleUser({ email: `dbdown.${tag()}@gmail.example` });
    const jar = new Jar();
    let r;
    try {
        r = await oauthSignIn(jar, 'google', { who: person.email, edit: (u) => { stackctl('stop-db'); return u; } });
    } finally {
        stackctl('start-db');
    }
    assertRefused(r, 'ServiceUnavailable', 'database down');
    const page = await get('/api/auth/error?error=ServiceUnavailable');
    assert.equal(page.status, 302);
    assert.equal(new URL(page.headers.location, BASE).pathname + new URL(page.headers.location, BASE).search,
        '/api/auth/signin?error=ServiceUnavailable');
    const signin = await get('/api/auth/signin?error=ServiceUnavailable', { headers: { Accept: 'text/html' } });
    assert.ok(isHtml(signin));
    assert.match(signin.text, /unavailable/i, 'the sign-in page says why');
});

test('bad ID tokens are refused: wrong nonce, bad signature, wrong aud, expired, wrong iss, alg none or HS256, unknown kid', async () => {
    const person = await googleUser({ email: `idtok.${tag()}@gmail.example` });
    for (const fault of ['wrong_nonce', 'no_nonce', 'bad_signature', 'wrong_aud', 'expired', 'future_iat',
        'wrong_iss', 'alg_none', 'alg_hs256', 'unknown_kid', 'no_id_token', 'invalid_grant']) {
        const jar = new Jar();
        const r = await oauthSignIn(jar, 'google', { who: person.email, fault });
        assertRefused(r, 'OAuthCallback', fault);
        assert.equal(Object.keys(await session(jar)).length, 0, `${fault}: not signed in`);
    }
    assert.equal(accountRows('google', person.sub), '', 'no account from any of them');
    const log = fs.readFileSync(`${STATE}/logs/platform.log`, 'utf8');
    for (const why of ['wrong_nonce', 'bad_signature', 'wrong_audience', 'expired', 'wrong_issuer', 'bad_alg', 'no_key', 'not_yet_valid']) {
        assert.match(log, new RegExp(`Google ID token refused: ${why}`), `the log names ${why}`);
    }
    const githubSecret = fs.readFileSync(ENV.GITHUB_CLIENT_SECRET_FILE, 'utf8').trim();
    assert.ok(ENV.GOOGLE_CLIENT_SECRET && githubSecret, 'both secrets known to the test');
    assert.ok(!log.includes(ENV.GOOGLE_CLIENT_SECRET) && !log.includes(githubSecret), 'no client secret in the log');
    assert.ok(!/ya29\.|gho_|eyJhbGciOiJSUzI1Ni/.test(log), 'no provider token in the log');
});

test('the provider\'s error=access_denied is AccessDenied, shown on the error page', async () => {
    for (const provider of ['google', 'github']) {
        const jar = new Jar();
        const r = await oauthSignIn(jar, provider, { fault: 'access_denied' });
        assert.equal(r.callback.searchParams.get('error'), 'access_denied');
        assertRefused(r, 'AccessDenied', provider);
        const page = await get(r.location.pathname + r.location.search, { headers: { Accept: 'text/html' } });
        assert.equal(page.status, 403);
        assert.match(page.text, /cancelled, or the provider did not grant access/);
    }
    // GitHub's bad code (200 {"error": …}) is a callback error
    const jar = new Jar();
    assertRefused(await oauthSignIn(jar, 'github', { fault: 'bad_verification_code' }), 'OAuthCallback', 'bad code');
});

test('CSRF and origin: the sign-in POST checks both, as the credentials sign-in does', async () => {
    const jar = new Jar();
    await csrf(jar);
    let res = jar.apply(await request('POST', '/api/auth/signin/google', {
        headers: jar.headers(FORM), body: form({ csrfToken: 'f'.repeat(64), callbackUrl: '/' }),
    }));
    assert.equal(res.status, 302);
    assert.equal(new URL(res.headers.location).pathname + new URL(res.headers.location).search, '/api/auth/signin?csrf=true');
    assert.ok(!res.setCookies.some((c) => c.startsWith('next-auth.state')), 'no sign-in started');
    const token = await csrf(jar);
    res = await request('POST', '/api/auth/signin/google', {
        headers: jar.headers({ ...FORM, Origin: 'https://evil.example' }), body: form({ csrfToken: token }),
    });
    assert.equal(res.status, 403);
    assert.equal(res.json().error, 'cross_site');
    // json=true: {"url"} with the provider's URL, as next-auth/react's signIn() reads it
    res = jar.apply(await request('POST', '/api/auth/signin/github', {
        headers: jar.headers(JSON_H), body: JSON.stringify({ csrfToken: token, callbackUrl: '/', json: 'true' }),
    }));
    assert.equal(res.status, 200);
    assert.ok(res.json().url.startsWith(`${GITHUB}/login/oauth/authorize?`), res.text);
});

test('a callbackUrl on another origin is ignored: the sign-in lands on the origin', async () => {
    const person = await googleUser({ email: `cb.${tag()}@gmail.example` });
    for (const callbackUrl of ['https://evil.example/steal', '//evil.example/x', '/\\evil.example']) {
        const jar = new Jar();
        const r = await oauthSignIn(jar, 'google', { who: person.email, callbackUrl });
        assert.equal(r.res.status, 302);
        assert.equal(r.location.origin, ORIGIN, `${callbackUrl} -> ${r.location.href}`);
        assert.ok(sessionSet(r.res));
    }
});

// An OAuth sign-in read the account and made its session's row in two
// statements of their own: "sign out everywhere" between them left a row
// for a session dead at once, listed in settings for 30 days (as the
// credentials sign-in did; found by the authedges probe).  A trigger
// holds the sign-in's row while the sign-out is sent.
test('an OAuth sign-in under way when "sign out everywhere" commits: its session is ended and not listed', async () => {
    const t = tag();
    const person = await googleUser({ email: `cut.${t}@gmail.example`, name: `Cut ${t}` });
    const first = new Jar();
    await oauthSignIn(first, 'google', { who: person.email });
    const id = (await me(first)).id;
    assert.ok(id, 'signed in once');
    const name = `oauth_hold_${t}`;
    psql(`CREATE FUNCTION "${name}"() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$;
        CREATE TRIGGER "${name}" BEFORE INSERT ON "AuthSession" FOR EACH ROW
            WHEN (NEW."userId" = ${lit(id)}) EXECUTE FUNCTION "${name}"();`);
    const jar = new Jar();
    let r;
    try {
        const pending = oauthSignIn(jar, 'google', { who: person.email });
        let held = false;
        for (let i = 0; i < 200 && !held; i++) {
            held = psql(`SELECT count(*) FROM pg_stat_activity WHERE state = 'active'
                AND query LIKE 'INSERT INTO "AuthSession"%' AND pid <> pg_backend_pid()`) !== '0';
            if (!held) await new Promise((res) => setTimeout(res, 50));
        }
        assert.ok(held, 'the sign-in\'s row is held');
        const out = await account('POST', '/api/account/signout-all', first, {});
        assert.equal(out.status, 200, out.text);
        r = await pending;
    } finally {
        psql(`DROP TRIGGER IF EXISTS "${name}" ON "AuthSession"; DROP FUNCTION IF EXISTS "${name}"();`);
    }
    assert.equal(r.res.status, 302, r.res.text.slice(0, 200));
    assert.deepEqual(await session(jar), {}, 'signed out everywhere after it: ended');
    assert.equal(psql(`SELECT count(*) FROM "AuthSession" WHERE "userId" = ${lit(id)}`), '0',
        'no row listed for a dead session');
});

