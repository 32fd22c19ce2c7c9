// Signing in with Google in a real browser (issue 7): a V1 user who once
// signed in with Google (a "User" row and its "Account" row, inserted as
// V1's NextAuth and Prisma wrote them) opens the platform, chooses
// "Continue with Google" on the sign-in page, passes the fake Google
// (tests/fakes/oidc.mjs, which approves at once) and lands on the
// dashboard as that same user.  A second such user then runs the
// settings of an OAuth-only account: Google shown as connected and its
// Unlink refused in words (the last way to sign in), a first password
// refused for want of a fresh sign-in and set after one, GitHub connected
// through the fake GitHub (tests/fakes/github.mjs), Google unlinked, and
// a sign-out and a sign-in with the new password.  Screenshots go to
// build/tests/screenshots/oauth-*.png.
//
// Run by scripts/test.sh against the test stack (NANO_TEST_BASE,
// NANO_TEST_OIDC_URL, NANO_TEST_GITHUB_URL, NANO_TEST_PG_SOCK), or alone
// with those set:
//   node --test tests/browser/oauth.test.mjs
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { psql, lit } from '../integration/accounts.mjs';
import { ORIGIN, url, launch, shooter, steps, signIn, signOut } from './lib.mjs';

const OIDC = process.env.NANO_TEST_OIDC_URL || '';
const GITHUB = process.env.NANO_TEST_GITHUB_URL || '';
const shot = shooter('oauth');

before(() => {
    assert.ok(OIDC && GITHUB, 'NANO_TEST_OIDC_URL and NANO_TEST_GITHUB_URL are set (scripts/test.sh starts the fakes)');
});

async function fake(base, p, body) {
    const res = await fetch(`${base}${p}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, `${p}: ${await res.text()}`);
}

/* A V1 user who signed in with Google: the "User" row (no password) and
 * its Google "Account" row as NextAuth's Prisma adapter wrote them, and
 * the same person at the fake Google. */
async function v1GoogleUser(name) {
    const id = crypto.randomBytes(5).toString('hex');
    const v1 = {
        id: `ckv1browser${id}0000`, name: `${name} ${id}`, email: `v1.${id}@example.com`,
        sub: `1093${BigInt('0x' + id)}`, tag: id,
    };
    psql(`INSERT INTO "User" ("id", "name", "email", "emailVerified", "image") VALUES (${lit(v1.id)}, ${lit(v1.name)}, ${lit(v1.email)}, NULL, NULL)`);
    psql(`INSERT INTO "Account" ("id", "userId", "type", "provider", "providerAccountId", "access_token", "expires_at", "token_type", "scope", "id_token")
          VALUES (${lit(`cbracc${id}00000000000`)}, ${lit(v1.id)}, 'oauth', 'google', ${lit(v1.sub)}, 'ya29.v1', 1700000000, 'Bearer', 'openid email profile', 'eyJv1')`);
    await fake(OIDC, '/_fake/users', { sub: v1.sub, email: v1.email, name: v1.name });
    return v1;
}

test('browser: a V1 user with a Google "Account" row signs in with Google and lands on the dashboard as that user', async (t) => {
    const v1 = await v1GoogleUser('Katherine Johnson');
    await fake(OIDC, '/_fake/next', { email: v1.email });

    const context = await launch();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
        await t.test('the sign-in page offers Google', async () => {
            await page.goto(url('/api/auth/signin'));
            assert.equal(await page.locator('main h1').innerText(), 'Sign in');
            await page.getByRole('button', { name: 'Continue with Google' }).waitFor();
            await shot(page, 'signin');
        });

        await t.test('Continue with Google: through the provider and back to the dashboard', async () => {
            const hops = [];
            page.on('request', (r) => {
                if (r.isNavigationRequest()) hops.push(new URL(r.url()));
            });
            await page.getByRole('button', { name: 'Continue with Google' }).click();
            await page.waitForURL((u) => u.origin === ORIGIN && u.pathname === '/');
            await page.waitForLoadState('load');
            // the form post, Google's authorization endpoint, the callback, /
            const paths = hops.map((u) => `${u.origin === ORIGIN ? '' : u.origin}${u.pathname}`);
            assert.deepEqual(paths, ['/api/auth/signin/google', `${new URL(OIDC).origin}/o/oauth2/v2/auth`,
                '/api/auth/callback/google', '/'], paths.join(' -> '));
            assert.equal(await page.locator('header .nb-user-name').innerText(), v1.name);
            await shot(page, 'dashboard');
        });

        await t.test('the session is the V1 user\'s, signed in with Google', async () => {
            const s = await page.evaluate(async () => (await fetch('/api/auth/session')).json());
            assert.equal(s.user?.email, v1.email, JSON.stringify(s));
            assert.equal(s.user?.name, v1.name);
            const me = await page.evaluate(async () => (await fetch('/qwen/api/me')).json());
            assert.equal(me.id, v1.id, 'the same user id as in V1');
            assert.equal(psql(`SELECT "method" FROM "AuthSession" WHERE "userId" = ${lit(v1.id)}`), 'google');
            assert.equal(psql(`SELECT count(*) FROM "User" WHERE lower("email") = lower(${lit(v1.email)})`), '1', 'no second user');
            assert.deepEqual(errors, [], 'no script errors');
        });
    } finally {
        await context.close();
    }
});

test('browser: an OAuth-only V1 user\'s settings: Google connected, a first password, GitHub connected, Google unlinked, back in with the password', async (t) => {
    const v1 = await v1GoogleUser('Dorothy Vaughan');
    const gh = { login: `dv-${v1.tag}`, id: 700000 + parseInt(v1.tag.slice(0, 5), 16), name: v1.name, email: v1.email };
    await fake(GITHUB, '/_fake/users', gh);
    const password = `pw-${v1.tag}-first-one`;

    const context = await launch();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const step = steps(t);
    const connections = page.locator('section[data-nbs-connections]');
    const connected = () => connections.locator('[data-nbs-connections-list] li').evaluateAll(
        (lis) => lis.map((li) => li.dataset.provider));
    const pwForm = page.locator('form[data-nbs-password]');

    // "Continue with Google" (or "Sign in again with Google") on the page
    // shown, through the fake Google, back at `landing`
    async function throughGoogle(button, landing) {
        await fake(OIDC, '/_fake/next', { email: v1.email });
        await page.getByRole('button', { name: button }).click();
        await page.waitForURL((u) => u.origin === ORIGIN && u.pathname === landing);
        await page.waitForLoadState('load');
    }

    try {
        await step('signs in with Google and lands on the dashboard as the V1 user', async () => {
            await page.goto(url('/api/auth/signin'));
            await throughGoogle('Continue with Google', '/');
            await page.locator('body[data-nbd-ready]').waitFor();
            assert.equal(await page.locator('main h1').innerText(), `Welcome, ${v1.name}`, 'no generations here yet');
            assert.equal(await page.locator('header .nb-user-name').innerText(), v1.name);
        });

        await step('settings: Google connected, Connect GitHub offered, a first password without a current one, deletion without a password', async () => {
            await page.locator('header nav.nb-account').getByRole('link', { name: 'Settings' }).click();
            await page.waitForURL(url('/settings'));
            await connections.waitFor({ state: 'visible' });
            assert.deepEqual(await connected(), ['google']);
            assert.match(await connections.locator('li[data-provider="google"]').innerText(), new RegExp(`Google\\s+${v1.sub}`));
            const connect = connections.getByRole('link', { name: 'Connect GitHub' });
            assert.equal(await connect.getAttribute('href'), '/api/auth/signin/github?link=1&callbackUrl=%2Fsettings');
            assert.equal(await connections.getByRole('link', { name: 'Connect Google' }).count(), 0);
            await pwForm.getByRole('button', { name: 'Set password' }).waitFor();
            assert.equal(await pwForm.getByLabel('Current password').isVisible(), false, 'no current password asked');
            assert.ok(await page.locator('[data-nbs-first-password]').isVisible());
            const del = page.locator('form[data-nbs-delete]');
            assert.equal(await del.getByLabel('Password').isVisible(), false, 'deletion asks no password');
            assert.match(await del.locator('[data-nbs-delete-oauth]').innerText(), /no password/);
            await shot(page, 'settings-oauth-only');
        });

        await step('Unlink Google is refused in words: the last way to sign in', async () => {
            await connections.getByRole('button', { name: 'Unlink Google' }).click();
            const err = connections.locator('[data-nbs-connections-error]');
            await err.filter({ hasText: /\S/ }).waitFor();
            assert.match(await err.innerText(), /only way to sign in.*set a password or connect another account first/);
            assert.deepEqual(await connected(), ['google']);
            assert.equal(psql(`SELECT count(*) FROM "Account" WHERE "userId" = ${lit(v1.id)}`), '1');
        });

        await step('a first password: refused without a fresh sign-in, with a way to sign in again; set after it', async () => {
            // the sign-in is no longer fresh: its row says 11 minutes ago
            psql(`UPDATE "AuthSession" SET "createdAt" = "createdAt" - interval '11 minutes' WHERE "userId" = ${lit(v1.id)}`);
            await pwForm.getByLabel('New password').fill(password);
            await pwForm.getByRole('button', { name: 'Set password' }).click();
            const err = pwForm.locator('[data-nbs-error]');
            await err.filter({ hasText: /\S/ }).waitFor();
            assert.match(await err.innerText(), /recent sign-in: sign in again with Google/);
            assert.equal(psql(`SELECT "password" IS NULL FROM "User" WHERE "id" = ${lit(v1.id)}`), 't');
            await shot(page, 'settings-reauth');

            await err.getByRole('link', { name: 'Sign in again with Google' }).click();
            await page.waitForURL((u) => u.pathname === '/api/auth/signin/google');
            await throughGoogle('Continue with Google', '/settings');
            await pwForm.getByRole('button', { name: 'Set password' }).waitFor();
            await pwForm.getByLabel('New password').fill(password);
            await pwForm.getByRole('button', { name: 'Set password' }).click();
            await pwForm.locator('[data-nbs-status]', { hasText: 'Password set' }).waitFor();
            assert.equal(psql(`SELECT "password" IS NOT NULL FROM "User" WHERE "id" = ${lit(v1.id)}`), 't');
            // from now on a change, and deletion asks for it
            await pwForm.getByRole('button', { name: 'Change password' }).waitFor();
            assert.ok(await pwForm.getByLabel('Current password').isVisible());
            assert.ok(await page.locator('form[data-nbs-delete]').getByLabel('Password').isVisible());
        });

        await step('Connect GitHub: through the fake GitHub and back to settings, both connected', async () => {
            await fake(GITHUB, '/_fake/next', { login: gh.login });
            await connections.getByRole('link', { name: 'Connect GitHub' }).click();
            await page.waitForURL((u) => u.pathname === '/api/auth/signin/github');
            assert.equal(await page.locator('main h1').innerText(), 'Link your GitHub account');
            await page.getByRole('button', { name: 'Link GitHub' }).click();
            await page.waitForURL((u) => u.origin === ORIGIN && u.pathname === '/settings');
            await connections.locator('li[data-provider="github"]').waitFor();
            assert.deepEqual((await connected()).sort(), ['github', 'google']);
            assert.match(await connections.locator('li[data-provider="github"]').innerText(), new RegExp(`GitHub\\s+${gh.id}`));
            assert.equal(await connections.getByRole('link', { name: /^Connect / }).count(), 0);
            assert.equal(await page.locator('header .nb-user-name').innerText(), v1.name, 'still the same user');
        });

        await step('Unlink Google: gone, Connect Google offered again', async () => {
            await connections.getByRole('button', { name: 'Unlink Google' }).click();
            await connections.locator('[data-nbs-connections-status]', { hasText: 'Google unlinked.' }).waitFor();
            await connections.getByRole('link', { name: 'Connect Google' }).waitFor();
            assert.deepEqual(await connected(), ['github']);
            assert.equal(await connections.locator('[data-nbs-connections-error]').innerText(), '');
            assert.equal(psql(`SELECT string_agg("provider", ',') FROM "Account" WHERE "userId" = ${lit(v1.id)}`), 'github');
            await shot(page, 'settings-linked');
        });

        await step('sign out, and back in with the new password', async () => {
            await signOut(page);
            const cookies = await page.context().cookies(ORIGIN);
            assert.ok(!cookies.some((c) => /session-token/.test(c.name)), 'signed out');
            await page.goto(url('/settings'));
            await page.waitForURL((u) => u.pathname === '/api/auth/signin');
            await signIn(page, { email: v1.email, password }, '/settings');
            assert.equal(await page.locator('header .nb-user-name').innerText(), v1.name);
            await connections.locator('li[data-provider="github"]').waitFor();
            assert.deepEqual(await connected(), ['github']);
            assert.equal(psql(`SELECT "method" FROM "AuthSession" WHERE "userId" = ${lit(v1.id)} ORDER BY "createdAt" DESC LIMIT 1`), 'credentials');
            assert.deepEqual(errors, [], 'no script errors');
        });
    } finally {
        await context.close();
    }
});
