// The login journey in a real browser: Debian's headless chromium driven by
// playwright-core (which never downloads a browser here).  A person opens a
// module without a session, is sent to sign in, creates an account on the
// sign-up page, lands back on the module, walks the header to every other
// module with the one session, signs out, and is asked to sign in again.
// A wrong password shows the sign-in page's error.  Screenshots of a
// signed-in module page and of the sign-in page go to
// build/tests/screenshots/.
//
// Run by scripts/test.sh against the test stack (NANO_TEST_BASE), or alone:
//   NANO_TEST_BASE=http://127.0.0.1:18080 node --test tests/browser/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { BASE, ORIGIN, SHOTS, url, launch, steps } from './lib.mjs';

const MODULES = ['nano-banana', 'seedream', 'qwen', 'grok', 'openai', 'wan-2.5'];
const TITLES = {
    'nano-banana': /nano[ -]?banana/i,
    seedream: /seedream/i,
    qwen: /qwen/i,
    grok: /grok/i,
    openai: /openai/i,
    'wan-2.5': /wan[ -]?2\.5/i,
};
const SIGNIN_PATH = '/api/auth/signin';
const TIMEOUT = 15000;

let context;
// Every answer of 400 or more and every failed request the browser saw,
// except what a test expects (the wrong-password round trip).
const problems = [];

before(async () => {
    context = await launch({ timeout: TIMEOUT });
    // A request that had its answer and whose unread body is dropped by the
    // next navigation (the sign-up page does not read its 201's body)
    // reports ERR_ABORTED: that is no failure.
    const answered = new WeakSet();
    context.on('response', (res) => {
        answered.add(res.request());
        if (res.status() >= 400) problems.push(`${res.request().method()} ${res.url()}: ${res.status()}`);
    });
    context.on('requestfailed', (req) => {
        const why = req.failure()?.errorText;
        if (answered.has(req) && why === 'net::ERR_ABORTED') return;
        problems.push(`${req.method()} ${req.url()} failed: ${why}`);
    });
});

after(async () => {
    await context?.close();
});

function newUser() {
    const id = crypto.randomBytes(5).toString('hex');
    return {
        email: `browser-${id}@example.com`,
        name: `Zoë Brontë ${id}`,
        password: `pw-${id}-long-enough`,
    };
}

// The callbackUrl of a page's address, resolved against our origin (the
// platform may hand it on as a relative path or as a same-origin URL).
function callbackOf(page) {
    const cb = new URL(page.url()).searchParams.get('callbackUrl');
    assert.ok(cb, `a callbackUrl in ${page.url()}`);
    const u = new URL(cb, BASE);
    assert.equal(u.origin, ORIGIN, `callbackUrl ${cb} stays on our origin`);
    return u.pathname + u.search;
}

// Waits until the page is at one of the paths on our origin.
async function waitForPath(page, ...paths) {
    await page.waitForURL((u) => u.origin === ORIGIN && paths.includes(u.pathname));
    await page.waitForLoadState('load');
}

// The shared look is there: ui.css answered 200 from /ui/ and applies
// (the header is a flex row with the surface colour, the brand and the nav).
async function assertStyled(page, where) {
    const css = await page.evaluate(() => [...document.styleSheets]
        .map((s) => ({ href: s.href, rules: (() => { try { return s.cssRules.length; } catch { return -1; } })() })));
    const ui = css.find((s) => s.href === `${ORIGIN}/ui/ui.css`);
    assert.ok(ui, `${where}: /ui/ui.css is linked (${JSON.stringify(css)})`);
    assert.ok(ui.rules > 10, `${where}: /ui/ui.css loaded with its rules (${ui.rules})`);
    const header = page.locator('header.nb-header');
    await header.waitFor();
    const style = await header.evaluate((h) => {
        const s = getComputedStyle(h);
        return { display: s.display, token: getComputedStyle(document.documentElement).getPropertyValue('--nb-accent').trim() };
    });
    assert.equal(style.display, 'flex', `${where}: the header is laid out by ui.css`);
    assert.equal(style.token, '#f2c200', `${where}: the design tokens are defined`);
    assert.ok(await page.locator('header .nb-brand img[src="/ui/logo.svg"]').evaluate((img) => img.complete && img.naturalWidth > 0),
        `${where}: the logo loaded`);
    for (const m of MODULES) {
        assert.equal(await page.locator(`header nav a[href="/${m}"]`).count(), 1, `${where}: a header link to /${m}`);
    }
}

// The header links to root paths (/seedream), which the module serves as
// it serves /seedream/.
async function assertModulePage(page, m, user) {
    await waitForPath(page, `/${m}`, `/${m}/`);
    assert.match(await page.locator('main h1').innerText(), TITLES[m], `/${m}/ shows its title`);
    assert.match(await page.title(), TITLES[m], `/${m}/ has its title in <title>`);
    assert.equal(await page.locator('header .nb-user-name').innerText(), user.name,
        `/${m}/ shows the name in the header`);
    assert.ok((await page.locator('main').innerText()).includes(user.name), `/${m}/ shows the name on the page`);
    assert.equal(await page.locator(`header nav a[href="/${m}"]`).getAttribute('aria-current'), 'page',
        `/${m}/ marks its own header link as the current page`);
    assert.equal(await page.locator('form[action$="/api/auth/callback/credentials"]').count(), 0,
        `/${m}/ does not ask to sign in`);
}

test('browser: sign up from a module, walk every module, sign out', async (t) => {
    const page = await context.newPage();
    const user = newUser();
    // Each step builds on the one before: after a failure the rest report
    // it at once instead of each waiting for its own timeout.
    const step = steps(t);

    await step('a module without a session sends the person to sign in', async () => {
        await page.goto(url('/qwen/'));
        await waitForPath(page, SIGNIN_PATH);
        assert.equal(callbackOf(page), '/qwen/', page.url());
        assert.equal(await page.locator('main h1').innerText(), 'Sign in');
        await assertStyled(page, 'sign-in page');
        assert.equal(await page.locator('header .nb-user-name').count(), 0, 'no name without a session');
        await page.screenshot({ path: path.join(SHOTS, 'signin.png'), fullPage: true });
    });

    await step('the sign-up link keeps the callback; the form creates the account', async () => {
        await page.getByRole('link', { name: 'Create one' }).click();
        await waitForPath(page, '/signup');
        assert.equal(callbackOf(page), '/qwen/', page.url());
        await assertStyled(page, 'sign-up page');
        const f = page.locator('form#nb-signup');
        await f.getByLabel('Name').fill(user.name);
        await f.getByLabel('Email').fill(user.email);
        await f.getByLabel('Password').fill(user.password);
        await f.getByRole('button', { name: 'Create account' }).click();
        // The page signs in by itself and goes to the callback; should it
        // land on the sign-in page instead, sign in there with the form.
        await page.waitForURL((u) => u.origin === ORIGIN && (u.pathname === '/qwen/' || u.pathname === SIGNIN_PATH));
        if (new URL(page.url()).pathname === SIGNIN_PATH) {
            t.diagnostic('sign-up ended on the sign-in page; signing in with the form');
            await page.getByLabel('Email').fill(user.email);
            await page.getByLabel('Password').fill(user.password);
            await page.getByRole('button', { name: 'Sign in' }).click();
        }
        await assertModulePage(page, 'qwen', user);
        await assertStyled(page, '/qwen/');
        await page.screenshot({ path: path.join(SHOTS, 'qwen-signed-in.png'), fullPage: true });
    });

    await step('the header links open every other module with the same session', async () => {
        for (const m of MODULES.filter((x) => x !== 'qwen')) {
            await page.locator(`header nav a[href="/${m}"]`).click();
            await assertModulePage(page, m, user);
        }
        // And back home through the brand: the platform knows the person too.
        await page.locator('header a.nb-brand').click();
        await waitForPath(page, '/');
        assert.equal(await page.locator('header .nb-user-name').innerText(), user.name, 'home shows the name');
    });

    await step('sign out through the header; a module asks to sign in again', async () => {
        await page.getByRole('link', { name: 'Sign out' }).click();
        await waitForPath(page, '/api/auth/signout');
        await page.locator('main form').getByRole('button', { name: 'Sign out' }).click();
        await page.waitForURL((u) => u.origin === ORIGIN && u.pathname !== '/api/auth/signout');
        await page.waitForLoadState('load');
        const cookies = await context.cookies(ORIGIN);
        assert.ok(!cookies.some((c) => /session-token/.test(c.name)),
            `no session cookie after sign-out: ${cookies.map((c) => c.name).join(', ')}`);
        await page.goto(url('/seedream/'));
        await waitForPath(page, SIGNIN_PATH);
        assert.equal(callbackOf(page), '/seedream/', page.url());
        assert.equal(await page.locator('header .nb-user-name').count(), 0, 'no name after sign-out');
    });

    await step('a wrong password shows the error on the sign-in page', async () => {
        const before = problems.length;
        await page.getByLabel('Email').fill(user.email);
        await page.getByLabel('Password').fill(`${user.password}-wrong`);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL((u) => u.origin === ORIGIN && u.pathname === SIGNIN_PATH
            && u.searchParams.get('error') === 'CredentialsSignin');
        await page.waitForLoadState('load');
        const error = page.locator('main .nb-error');
        assert.ok(await error.isVisible(), 'the error is visible');
        assert.match(await error.innerText(), /check that your email and password are correct/i);
        assert.equal(await page.locator('header .nb-user-name').count(), 0, 'still signed out');
        await assertStyled(page, 'sign-in page with an error');
        await page.screenshot({ path: path.join(SHOTS, 'signin-error.png'), fullPage: true });
        // The refused POST answers 401 with its redirect: that one is expected.
        problems.splice(before, problems.length - before,
            ...problems.slice(before).filter((p) => !/\/api\/auth\/callback\/credentials: 401$/.test(p)));
    });

    await t.test('no request of the journey failed or answered an error', () => {
        assert.deepEqual(problems, []);
    });

    await page.close();
});

// make run prints http://localhost:PORT; opened as http://127.0.0.1:PORT
// (or the machine's IP) the site refuses the sign-up as cross-site, and
// the page said "Reload the page and try again", which never helps.  It
// names the site's address now, with this page there.
test('browser: a sign-up under another name of the site names the site\'s address', async () => {
    const other = new URL(BASE);
    other.hostname = other.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
    const page = await context.newPage();
    const user = newUser();
    await page.goto(`${other.origin}/signup?callbackUrl=${encodeURIComponent('/qwen/')}`);
    const f = page.locator('form#nb-signup');
    await f.getByLabel('Name').fill(user.name);
    await f.getByLabel('Email').fill(user.email);
    await f.getByLabel('Password').fill(user.password);
    await f.getByRole('button', { name: 'Create account' }).click();
    const error = page.locator('#nb-error');
    await error.filter({ hasText: `This site's address is ${ORIGIN}` }).waitFor();
    assert.equal(await error.getByRole('link').getAttribute('href'),
        `${ORIGIN}/signup?callbackUrl=${encodeURIComponent('/qwen/')}`);
    await page.close();
});
