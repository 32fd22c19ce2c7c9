// "Load more" on a long history, in headless Chromium against the real
// stack: the billing page's ledger and a module page's history each show
// every row once and hide the button at the end, also when the button is
// pressed twice before its page arrives.  The rows are written with SQL,
// as a long-lived account has them; and the sessions on /settings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { REGISTRY } from '../integration/lib.mjs';
import { psql, lit } from '../integration/generations.mjs';
import { url, launch, newUser, signUp } from './lib.mjs';

const TIMEOUT = 20000;
let context;
let page;
let userId;

before(async () => {
    context = await launch({ timeout: TIMEOUT });
    page = await context.newPage();
    const user = newUser('paging');
    await page.goto(url('/signup'));
    await signUp(page, user, '/');
    userId = psql(`SELECT "id" FROM "User" WHERE "email" = ${lit(user.email)}`);
    assert.ok(userId);
});

after(async () => {
    await context?.close();
});

// Presses the button twice in one go, as a double click does.
const pressTwice = (button) => button.evaluate((b) => { b.click(); b.click(); });

// Waits until the list stops growing and the button is hidden.
async function toTheEnd(more, count, want) {
    for (let i = 0; i < 20 && await more.isVisible(); i++) {
        const before = await count();
        await pressTwice(more);
        await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel).length > n
            || document.querySelector('[data-nbb-more], .nbm-more')?.hidden, [count.selector, before]);
        await page.waitForTimeout(300);
    }
    assert.equal(await more.isVisible(), false, 'Load more is hidden at the end');
    assert.equal(await count(), want);
}

test('billing: the ledger\'s Load more, pressed twice at a time, shows every row once and stops at the end', async () => {
    // 45 rows after the signup grant, each its own delta: pages of 20, 20, 6
    psql(`INSERT INTO "CreditLedger" ("userId","delta","reason","note","createdAt")
        SELECT ${lit(userId)}, g, 'adjustment', 'paging ' || g, '2026-01-01 00:00:00' FROM generate_series(1, 45) g`);
    await page.goto(url('/billing'));
    const rows = page.locator('[data-nbb-rows] tr');
    await page.waitForFunction(() => document.querySelectorAll('[data-nbb-rows] tr').length === 20);
    const more = page.locator('[data-nbb-more]');
    const count = Object.assign(() => rows.count(), { selector: '[data-nbb-rows] tr' });
    await toTheEnd(more, count, 46);
    const texts = await rows.allInnerTexts();
    assert.equal(new Set(texts.map((t) => t.replace(/\s+/g, ' '))).size, 46, 'no row twice');
});

test('module page: the history\'s Load more, pressed twice at a time, shows every generation once and stops at the end', async () => {
    const m = (REGISTRY.find((x) => x.kind === 'text') || REGISTRY[0]);
    const ids = Array.from({ length: 45 }, () => crypto.randomUUID());
    psql(`INSERT INTO "Generation" ("id","userId","module","model","kind","status","prompt","text","cost","createdAt") VALUES
        ${ids.map((id, i) => `(${lit(id)}, ${lit(userId)}, ${lit(m.name)}, 'm', ${lit(m.kind)}, 'succeeded',
            ${lit(`paging ${i}`)}, 'x', 1, '2026-01-01 00:00:00')`).join(',\n')}`);
    await page.goto(url(`/${m.name}/`));
    const items = page.locator('ul[aria-label="Your generations"] > li');
    await items.first().waitFor();
    const more = page.locator('.nbm-more');
    const count = Object.assign(() => items.count(), { selector: 'ul[aria-label="Your generations"] > li' });
    await toTheEnd(more, count, 45);
    const shown = await items.evaluateAll((lis) => lis.map((li) => li.dataset.id));
    assert.deepEqual([...shown].sort(), [...ids].sort(), 'every generation once');
});

test('settings: the sessions\' Show more, pressed twice at a time, shows every session once and stops at the end', async () => {
    // 120 sessions besides this browser's: pages of 50, 50, 21
    psql(`INSERT INTO "AuthSession" ("id","userId","createdAt","lastSeenAt","ipAddress","userAgent","expires")
        SELECT 'paging-' || g, ${lit(userId)}, '2026-01-01 00:00:00', '2026-01-01 00:00:00', '10.0.0.' || g,
            'a script/' || g, extract(epoch FROM now())::bigint + 86400 FROM generate_series(1, 120) g`);
    await page.goto(url('/settings'));
    const rows = page.locator('[data-nbs-sessions] tbody tr');
    await page.waitForFunction(() => document.querySelectorAll('[data-nbs-sessions] tbody tr').length === 50);
    assert.equal(await page.locator('[data-nbs-sessions] tr.nbs-current').count(), 1, 'this browser, the newest sign-in, first');
    const more = page.getByRole('button', { name: 'Show more sessions' });
    const count = Object.assign(() => rows.count(), { selector: '[data-nbs-sessions] tbody tr' });
    await toTheEnd(more, count, 121);
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.session));
    assert.equal(new Set(ids).size, 121, 'no session twice');
});
