// Sessions you can revoke, in a real browser (issue 5): one person signed
// in twice, in two browser contexts (two browsers, as far as cookies go).
// Context A changes the password with a same-origin fetch from a platform
// page; context B's next module request ends on the sign-in page within
// 2 s; A stays signed in; then a page in A calls POST /api/auth/session
// with {csrfToken, data} the way next-auth/react's useSession().update()
// does, and gets the session back with a re-issued cookie.  Screenshots
// of both contexts go to build/tests/screenshots/.
//
// Run by scripts/test.sh against the test stack (NANO_TEST_BASE), or alone:
//   NANO_TEST_BASE=http://127.0.0.1:18080 node --test tests/browser/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { steps } from './lib.mjs';

const BASE = (process.env.NANO_TEST_BASE || 'http://127.0.0.1:18080').replace(/\/$/, '');
const ORIGIN = new URL(BASE).origin;
const CHROMIUM = process.env.NANO_TEST_CHROMIUM || '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = path.join(ROOT, 'build/tests/screenshots');
const SIGNIN_PATH = '/api/auth/signin';
const SESSION_COOKIE = 'next-auth.session-token';
const TIMEOUT = 15000;
const REVOKE_WITHIN = 2000;   // ms

let browser;

before(async () => {
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

const url = (p) => `${BASE}${p}`;

async function newContext() {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, locale: 'en-US' });
    context.setDefaultTimeout(TIMEOUT);
    context.setDefaultNavigationTimeout(TIMEOUT);
    return context;
}

async function sessionCookie(context) {
    return (await context.cookies(ORIGIN)).find((c) => c.name === SESSION_COOKIE);
}

// Signs in through the sign-in page, coming from /qwen/.
async function signInThroughPage(page, user) {
    await page.goto(url('/qwen/'));
    await page.waitForURL((u) => u.origin === ORIGIN && u.pathname === SIGNIN_PATH);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.origin === ORIGIN && u.pathname === '/qwen/');
    await page.waitForLoadState('load');
    assert.equal(await page.locator('header .nb-user-name').innerText(), user.name, 'signed in on /qwen/');
}

test('browser: a password change in one context signs the other out; update() re-issues the cookie', async (t) => {
    const id = crypto.randomBytes(5).toString('hex');
    const user = { email: `browser-sess-${id}@example.com`, name: `Ada Lovelace ${id}`, password: `pw-${id}-long-enough` };
    const newPassword = `${user.password}-changed`;
    const reg = await fetch(url('/api/register'), {
        method: 'POST', headers: { 'Content-Type': 'application/json', Origin: ORIGIN }, body: JSON.stringify(user),
    });
    assert.equal(reg.status, 201, `register: ${await reg.text()}`);

    const ctxA = await newContext();
    const ctxB = await newContext();
    const a = await ctxA.newPage();
    const b = await ctxB.newPage();
    const step = steps(t);

    try {
        await step('both contexts sign in through the sign-in page', async () => {
            await signInThroughPage(a, user);
            await signInThroughPage(b, user);
            const ca = await sessionCookie(ctxA);
            const cb = await sessionCookie(ctxB);
            assert.ok(ca && cb, 'a session cookie in each context');
            assert.notEqual(ca.value, cb.value, 'two sessions');
        });

        await step('context A changes the password with a same-origin fetch from a platform page', async () => {
            await a.goto(url('/'));
            const r = await a.evaluate(async ({ currentPassword, newPassword: np }) => {
                const res = await fetch('/api/account/password', {
                    method: 'POST',
                    headers: { 'Content-Type': 'application/json' },
                    body: JSON.stringify({ currentPassword, newPassword: np }),
                });
                return { status: res.status, body: await res.text() };
            }, { currentPassword: user.password, newPassword });
            assert.equal(r.status, 200, `POST /api/account/password from the page: ${r.status} ${r.body.slice(0, 200)}`);
            assert.deepEqual(JSON.parse(r.body), { ok: true });
        });

        await step('context B\'s next module page ends on the sign-in page within 2 s', async () => {
            const t0 = Date.now();
            let delay = null;
            while (Date.now() - t0 < 4000) {
                await b.goto(url('/qwen/'));
                await b.waitForLoadState('load');
                const u = new URL(b.url());
                if (u.origin === ORIGIN && u.pathname === SIGNIN_PATH) {
                    delay = Date.now() - t0;
                    break;
                }
                await b.waitForTimeout(100);
            }
            assert.ok(delay !== null, `context B still opens /qwen/ 4 s after the password change (at ${b.url()})`);
            t.diagnostic(`context B signed out after ${delay} ms`);
            console.log(`browser: the other context reached the sign-in page ${delay} ms after the password change`);
            assert.ok(delay < REVOKE_WITHIN, `context B signed out only after ${delay} ms (must be < ${REVOKE_WITHIN} ms)`);
            const cb = new URL(b.url()).searchParams.get('callbackUrl');
            assert.equal(new URL(cb, BASE).pathname, '/qwen/', `the sign-in page brings B back to /qwen/: ${b.url()}`);
            assert.equal(await b.locator('header .nb-user-name').count(), 0, 'no name in B');
            await b.screenshot({ path: path.join(SHOTS, 'sessions-b-signed-out.png'), fullPage: true });
        });

        await step('context A still opens /qwen/', async () => {
            await a.goto(url('/qwen/'));
            await a.waitForLoadState('load');
            assert.equal(new URL(a.url()).pathname, '/qwen/', `A at ${a.url()}`);
            assert.equal(await a.locator('header .nb-user-name').innerText(), user.name);
            await a.screenshot({ path: path.join(SHOTS, 'sessions-a-still-signed-in.png'), fullPage: true });
        });

        await step('a page in A calls POST /api/auth/session as useSession().update() does: session and a new cookie', async () => {
            await a.goto(url('/'));
            const before = await sessionCookie(ctxA);
            assert.ok(before, 'A has a session cookie');
            // A new cookie value needs a new iat: wait for the next second.
            const { iat } = JSON.parse(Buffer.from(before.value.split('.')[1], 'base64url').toString());
            while (Math.floor(Date.now() / 1000) <= iat) await a.waitForTimeout(50);

            // next-auth/react: getCsrfToken() is GET /api/auth/csrf, then
            // update(data) POSTs {csrfToken, data} as JSON to /api/auth/session.
            const r = await a.evaluate(async () => {
                const { csrfToken } = await (await fetch('/api/auth/csrf', { headers: { 'Content-Type': 'application/json' } })).json();
                const res = await fetch('/api/auth/session', {
                    method: 'POST',
                    headers: { 'Content-Type': 'application/json' },
                    body: JSON.stringify({ csrfToken, data: {} }),
                });
                return { status: res.status, body: await res.text() };
            });
            assert.equal(r.status, 200, `POST /api/auth/session: ${r.status} ${r.body.slice(0, 200)}`);
            const s = JSON.parse(r.body);
            assert.equal(s.user?.email, user.email, `the session: ${r.body}`);
            const afterCookie = await sessionCookie(ctxA);
            assert.ok(afterCookie, 'still a session cookie');
            assert.notEqual(afterCookie.value, before.value, 'update() re-issued the cookie');
            await a.goto(url('/qwen/'));
            assert.equal(new URL(a.url()).pathname, '/qwen/', 'the re-issued cookie opens the module');
        });

        await step('the new password signs in in context B', async () => {
            await b.getByLabel('Email').fill(user.email);
            await b.getByLabel('Password').fill(newPassword);
            await b.getByRole('button', { name: 'Sign in' }).click();
            await b.waitForURL((u) => u.origin === ORIGIN && u.pathname === '/qwen/');
            assert.equal(await b.locator('header .nb-user-name').innerText(), user.name);
        });
    } finally {
        await ctxA.close().catch(() => {});
        await ctxB.close().catch(() => {});
    }
});
