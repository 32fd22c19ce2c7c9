// Issue 7's journey through the platform in one browser session: a person
// signs up and sees the dashboard (balance 100), buys a pack on the fake
// Stripe's checkout page (tests/fakes/stripe.mjs) and sees the balance
// rise once the signed webhook arrived, on /billing and on the dashboard;
// generates an image in nano-banana (the fake Gemini) and finds it in
// recent activity, in the chart and in its table; changes the name in
// settings and sees it in the header (and, at 390 px, each session with
// its Sign out button on the screen); downloads the data export (profile,
// sessions, the ledger with the purchase, the generation); deletes the
// account with the password and is signed out.  Screenshots:
// build/tests/screenshots/journey7-*.png.
//
// Run by scripts/test.sh against the test stack (NANO_TEST_BASE,
// NANO_TEST_STRIPE_URL), or alone against a running one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ORIGIN, PACKS, url, launch, shooter, steps, newUser, signUp, payOnFakeStripe } from './lib.mjs';

const STRIPE = process.env.NANO_TEST_STRIPE_URL || '';
const TIMEOUT = 30000;
const shot = shooter('journey7');

let context;
const problems = [];        // answers ≥ 400, failed requests, script and console errors on our origin

before(async () => {
    assert.ok(STRIPE, 'NANO_TEST_STRIPE_URL is set (the test stack starts the fake Stripe)');
    context = await launch({ viewport: { width: 1200, height: 900 }, acceptDownloads: true, timeout: TIMEOUT });
    const ours = (u) => new URL(u).origin === ORIGIN;
    context.on('response', (res) => {
        if (res.status() >= 400 && ours(res.url())) problems.push(`${res.request().method()} ${res.url()}: ${res.status()}`);
    });
    context.on('requestfailed', (req) => {
        if (req.failure()?.errorText === 'net::ERR_ABORTED' || !ours(req.url())) return;
        problems.push(`${req.method()} ${req.url()} failed: ${req.failure()?.errorText}`);
    });
    context.on('page', (page) => {
        page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
        page.on('console', (m) => {
            if (m.type() === 'error' && ours(page.url())) problems.push(`console: ${m.text()}`);
        });
    });
});

after(async () => {
    await context?.close();
});

const dashboardBalance = async (page) => (await page.locator('[data-nbd-balance]').innerText()).trim();

async function openDashboard(page) {
    await page.locator('header nav.nb-account').getByRole('link', { name: 'Dashboard' }).click();
    await page.waitForURL(url('/'));
    await page.locator('body[data-nbd-ready]').waitFor();
}

test('issue 7 journey: sign up, buy credits, generate, rename, export, delete', async (t) => {
    const page = await context.newPage();
    const user = newUser('journey');
    const pack = PACKS[0];
    const paid = 100 + pack.credits;
    const step = steps(t);

    await step('sign up and see the dashboard with 100 credits', async () => {
        await page.goto(url('/signup'));
        await signUp(page, user, '/');
        await page.locator('body[data-nbd-ready]').waitFor();
        assert.equal(await page.locator('main h1').innerText(), `Welcome, ${user.name}`);
        assert.equal(await dashboardBalance(page), '100 credits');
        assert.equal(await page.locator('header .nbm-balance').textContent(), 'Balance: 100 credits');
        await shot(page, 'dashboard');
    });

    await step('buy a pack on the fake Stripe checkout page; the webhook\'s credits show on /billing', async () => {
        await page.locator('header nav.nb-account').getByRole('link', { name: 'Billing' }).click();
        await page.waitForURL(url('/billing'));
        await page.locator(`[data-nbb-packs] button[data-pack="${pack.id}"]`).click();
        await page.waitForURL((u) => u.origin === new URL(STRIPE).origin);
        assert.equal(await page.locator('h1').innerText(), pack.label);
        await shot(page, 'checkout');
        await payOnFakeStripe(page);
        assert.equal(await page.locator('[data-nbb-notice]').innerText(), `Payment received: ${pack.credits} credits added to your balance.`);
        assert.equal((await page.locator('[data-nbb-balance]').innerText()).trim(), `${paid} credits`);
        assert.equal(await page.locator('[data-nbb-rows] tr').first().getAttribute('data-reason'), 'purchase');
        await shot(page, 'billing-paid');
    });

    await step('the dashboard shows the new balance', async () => {
        await openDashboard(page);
        assert.equal(await dashboardBalance(page), `${paid} credits`);
        assert.match(await page.locator('header [data-nb-balance]').innerText(), new RegExp(`${paid} credits`));
    });

    let genId;
    await step('generate in nano-banana: in recent activity, in the chart and in its table', async () => {
        await page.locator('.nbd-module[data-module="nano-banana"] a').click();
        await page.waitForURL(url('/nano-banana/'));
        await page.locator('form.nbm-form').getByLabel('Prompt').fill('A banana for the journey');
        await page.locator('.nbm-generate:enabled').click();
        await page.waitForFunction(() => document.querySelector('.nbm-result figure img')?.naturalWidth > 0, null, { timeout: TIMEOUT });
        genId = await page.locator('.nbm-grid > li').first().getAttribute('data-id');
        assert.ok(genId);

        await openDashboard(page);
        assert.equal(await dashboardBalance(page), `${paid - 4} credits`);
        const item = page.locator(`[data-nbd-recent] li[data-id="${genId}"]`);
        assert.match(await item.innerText(), /Nano Banana[\s\S]*A banana for the journey[\s\S]*Done/);
        await page.waitForFunction((gid) => document.querySelector(`li[data-id="${gid}"] img.nbd-thumb`)?.naturalWidth > 0, genId);
        // today is the last of the 30 days
        const bar = page.locator('[data-nbd-chart] rect[data-series="nano-banana"][data-bar="29"]');
        assert.equal(await bar.getAttribute('data-value'), '4');
        const box = await bar.boundingBox();
        assert.ok(box && box.height > 10, `the bar is drawn (${JSON.stringify(box)})`);
        await page.locator('.nbd-table summary').click();
        const table = page.locator('table.nbd-usage-table');
        assert.deepEqual(await table.locator('thead th').allInnerTexts(), ['Day', 'Nano Banana', 'Total']);
        assert.deepEqual(await table.locator('tbody tr').last().locator('td').allInnerTexts(), ['4', '4']);
        await shot(page, 'dashboard-generated');
    });

    const newName = `Journey Renamed ${user.id}`;
    await step('change the name in settings: the header shows it', async () => {
        await page.locator('header nav.nb-account').getByRole('link', { name: 'Settings' }).click();
        await page.waitForURL(url('/settings'));
        // the header's balance chip, as on every other page
        await page.locator('header [data-nb-balance]:visible', { hasText: /^Balance: \d+ credits$/ }).waitFor();
        const form = page.locator('form[data-nbs-name]');
        await form.getByLabel('Name').fill(newName);
        await form.getByRole('button', { name: 'Save name' }).click();
        await form.locator('[data-nbs-status]', { hasText: 'Saved.' }).waitFor();
        assert.equal(await page.locator('header .nb-user-name').innerText(), newName);
        await page.reload();
        assert.equal(await page.locator('header .nb-user-name').innerText(), newName, 'the re-issued cookie carries it');
        await shot(page, 'settings');
    });

    await step('settings at 390 px: each session\'s facts and its Sign out button are on the screen', async () => {
        await page.setViewportSize({ width: 390, height: 900 });
        const rows = page.locator('.nbs-sessions tbody tr');
        await rows.first().waitFor();
        for (const row of await rows.all()) {
            for (const el of await row.locator('td > *').all()) {
                const box = await el.boundingBox();
                assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${await el.innerText()}: at ${box?.x}..${box && box.x + box.width} px`);
            }
        }
        // what each line is, as the columns' heads said
        assert.deepEqual(await rows.first().locator('td').evaluateAll((tds) => tds.map((td) => getComputedStyle(td, '::before').content)),
            ['none', '"Address: "', '"Signed in: "', '"Last seen: "', 'none']);
        assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390);
        await shot(page, 'settings-390');
        await page.setViewportSize({ width: 1200, height: 900 });
    });

    await step('export the data: profile, sessions, the ledger with the purchase, the generation', async () => {
        const [download] = await Promise.all([
            page.waitForEvent('download'),
            page.getByRole('link', { name: 'Download my data' }).click(),
        ]);
        assert.match(download.suggestedFilename(), /^nano-export-\d{4}-\d\d-\d\d\.json$/);
        const data = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
        assert.equal(data.profile.name, newName);
        assert.equal(data.profile.email, user.email);
        assert.ok(data.sessions.some((s) => s.current), 'this session is in it');
        assert.equal(data.credits.balance, paid - 4);
        assert.deepEqual(data.credits.ledger.map((l) => [l.reason, l.delta]), [['signup', 100], ['purchase', pack.credits], ['debit', -4]]);
        assert.ok(data.generations.some((g) => g.id === genId && g.module === 'nano-banana'), 'the generation is in it');
    });

    await step('delete the account with the password: signed out', async () => {
        const form = page.locator('form[data-nbs-delete]');
        await form.getByLabel('Password').fill(user.password);
        await form.getByLabel('I understand this cannot be undone').check();
        await form.getByRole('button', { name: 'Delete my account' }).click();
        await page.waitForURL(url('/'));
        await page.locator('header a[href^="/api/auth/signin"]').waitFor();
        assert.equal(await page.locator('header .nb-user-name').count(), 0);
        const cookies = await context.cookies(ORIGIN);
        assert.ok(!cookies.some((c) => /session-token/.test(c.name)), 'no session cookie left');
        await page.goto(url('/settings'));
        await page.waitForURL((u) => u.pathname === '/api/auth/signin');
        await shot(page, 'deleted');
    });

    await step('no failed request, error answer, script or console error on our pages', async () => {
        assert.deepEqual(problems, []);
    });
});
