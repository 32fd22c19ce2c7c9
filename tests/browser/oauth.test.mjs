// Signing in with Google in a real browser (issue 7): a V1 user who once
// signed in with Google (a "User" row and its "Account" row, inserted as
// V1's NextAuth and Prisma wrote them) opens the platform, chooses
// "Continue with Google" on the sign-in page, passes the fake Google
// (tests/fakes/oidc.mjs, which approves at once) and lands on the
// dashboard as that same user.  Screenshots go to
// build/tests/screenshots/oauth-*.png.
//
// Run by scripts/test.sh against the test stack (NANO_TEST_BASE,
// NANO_TEST_OIDC_URL, NANO_TEST_PG_SOCK), or alone with those set:
//   node --test tests/browser/oauth.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { psql, lit } from '../integration/accounts.mjs';

const BASE = (process.env.NANO_TEST_BASE || 'http://127.0.0.1:18080').replace(/\/$/, '');
const ORIGIN = new URL(BASE).origin;
const OIDC = process.env.NANO_TEST_OIDC_URL || '';
const CHROMIUM = process.env.NANO_TEST_CHROMIUM || '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = path.join(ROOT, 'build/tests/screenshots');
const TIMEOUT = 15000;

let browser;

before(async () => {
    assert.ok(OIDC, 'NANO_TEST_OIDC_URL is set (scripts/test.sh starts the fake Google)');
    assert.ok(fs.existsSync(CHROMIUM),
        `${CHROMIUM} is missing: install Debian's chromium (scripts/deps.sh does)`);
    fs.mkdirSync(SHOTS, { recursive: true });
    // The launch options of journey.test.mjs.
    browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
            '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update',
            '--disable-sync',
        ],
        timeout: 30000,
    });
});

after(async () => {
    await browser?.close().catch(() => {});
});

async function fakeGoogle(p, body) {
    const res = await fetch(`${OIDC}${p}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, `${p}: ${await res.text()}`);
}

test('browser: a V1 user with a Google "Account" row signs in with Google and lands on the dashboard as that user', async (t) => {
    const id = crypto.randomBytes(5).toString('hex');
    const v1 = {
        id: `ckv1browser${id}0000`, name: `Katherine Johnson ${id}`, email: `kj.${id}@example.com`,
        sub: `1093${BigInt('0x' + id)}`,
    };
    // V1's rows: NextAuth's Prisma adapter made the user (no password) and
    // linked the Google account to it
    psql(`INSERT INTO "User" ("id", "name", "email", "emailVerified", "image") VALUES (${lit(v1.id)}, ${lit(v1.name)}, ${lit(v1.email)}, NULL, NULL)`);
    psql(`INSERT INTO "Account" ("id", "userId", "type", "provider", "providerAccountId", "access_token", "expires_at", "token_type", "scope", "id_token")
          VALUES (${lit(`cbracc${id}00000000000`)}, ${lit(v1.id)}, 'oauth', 'google', ${lit(v1.sub)}, 'ya29.v1', 1700000000, 'Bearer', 'openid email profile', 'eyJv1')`);
    // the same person at Google, who signs in next
    await fakeGoogle('/_fake/users', { sub: v1.sub, email: v1.email, name: v1.name });
    await fakeGoogle('/_fake/next', { email: v1.email });

    const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, locale: 'en-US' });
    context.setDefaultTimeout(TIMEOUT);
    context.setDefaultNavigationTimeout(TIMEOUT);
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
        await t.test('the sign-in page offers Google', async () => {
            await page.goto(`${BASE}/api/auth/signin`);
            assert.equal(await page.locator('main h1').innerText(), 'Sign in');
            await page.getByRole('button', { name: 'Continue with Google' }).waitFor();
            await page.screenshot({ path: path.join(SHOTS, 'oauth-signin.png'), fullPage: true });
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
            await page.screenshot({ path: path.join(SHOTS, 'oauth-dashboard.png'), fullPage: true });
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
        await context.close().catch(() => {});
    }
});
