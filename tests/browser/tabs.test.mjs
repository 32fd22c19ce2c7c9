// Several tabs of one browser, and a session that changes under a page
// left open (found by the tabs probe).  Tabs share the cookie jar: after
// tab B signs out and signs in with another account, tab A still shows
// the first account's page, and its next call carries the second
// account's cookie.  Before the page named its account (the header's
// data-nb-user, sent as X-Nano-User), that call was answered for the
// second account: "Load more" appended its history under the first
// one's, the header showed its balance, Send and Buy acted as it, Save
// renamed it.  Now each is refused with words and a Reload link; and a
// page whose session ended ("Sign out everywhere" in another tab) links
// to the sign-in page, which brings the person back to it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { psql, lit, setBalance } from '../integration/generations.mjs';
import { PG_SOCK, PSQL } from '../integration/accounts.mjs';
import { url, ORIGIN, launch, newUser, signIn, signOut, shooter, steps } from './lib.mjs';

const shot = shooter('tabs');
const HISTORY = 'ul[aria-label="Your generations"] > li';
let context;

before(async () => {
    context = await launch({ timeout: 15000, acceptDownloads: true });
});

after(async () => {
    await context?.close();
});

async function register(user) {
    const r = await fetch(url('/api/register'), {
        method: 'POST', headers: { 'Content-Type': 'application/json', Origin: ORIGIN }, body: JSON.stringify(user),
    });
    assert.equal(r.status, 201, `register: ${await r.text()}`);
    return psql(`SELECT "id" FROM "User" WHERE "email" = ${lit(user.email)}`);
}

// n finished qwen answers whose prompts begin with tag, newest first.
function seedHistory(userId, tag, n) {
    psql(`INSERT INTO "Generation" ("id","userId","module","model","kind","status","prompt","text","cost","createdAt")
        SELECT gen_random_uuid()::text, ${lit(userId)}, 'qwen', 'm', 'text', 'succeeded', ${lit(tag)} || ' ' || g,
            'x', 1, (now() AT TIME ZONE 'utc') - g * interval '1 minute' FROM generate_series(1, ${n}) g`);
}

// n ledger rows of year (+1 and -1 in turn: the balance stays).
function seedLedger(userId, year, n) {
    psql(`INSERT INTO "CreditLedger" ("userId","delta","reason","createdAt")
        SELECT ${lit(userId)}, CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END, 'adjustment',
            '${year}-03-01'::timestamp + g * interval '1 minute' FROM generate_series(1, ${n}) g`);
}

const balanceOf = (id) => Number(psql(`SELECT "balance" FROM "CreditAccount" WHERE "userId" = ${lit(id)}`));

// Tab b signs whoever is in out, then signs in as user.
async function switchTo(b, user) {
    await b.goto(url('/'));
    if (await b.locator('header .nb-user-name').count()) await signOut(b);
    await b.goto(url('/api/auth/signin?callbackUrl=%2F'));
    await signIn(b, user, '/');
    assert.equal(await b.locator('header .nb-user-name').innerText(), user.name);
}

// What the page says in el, and where its one link goes.
async function said(el) {
    await el.locator('a').first().waitFor();
    return { text: await el.innerText(), href: await el.locator('a').first().getAttribute('href') };
}

test('a page left open on one account, after another signed in in another tab, neither shows nor acts as that one', async (t) => {
    const one = newUser('tabone');
    const two = newUser('tabtwo');
    const oneId = await register(one);
    const twoId = await register(two);
    setBalance(twoId, 777);
    seedHistory(oneId, 'ONE', 30);
    seedHistory(twoId, 'TWO', 30);
    seedLedger(oneId, 2025, 30);
    seedLedger(twoId, 2024, 30);
    const a = await context.newPage();
    const b = await context.newPage();
    const step = steps(t);
    let loaded = 0;

    await step('tab A: the first account\'s history and balance on /qwen/', async () => {
        await a.goto(url('/qwen/'));
        await signIn(a, one, '/qwen/');
        await a.locator(HISTORY).nth(19).waitFor();
        await a.locator('header [data-nb-balance]', { hasText: '100 credits' }).waitFor();
        loaded = Date.now();
    });

    await step('tab B: signs out and signs in with the second account', async () => {
        await switchTo(b, two);
    });

    await step('tab A, shown again: its header keeps the first account\'s balance', async () => {
        await a.bringToFront();
        /* the chip asks again at most every 5 s (module.js REFETCH_MS) */
        await a.waitForTimeout(Math.max(0, loaded + 5100 - Date.now()));
        const asked = a.waitForResponse((r) => r.url().includes('/api/credits'));
        await a.evaluate(() => window.dispatchEvent(new Event('focus')));
        await asked;
        await a.waitForTimeout(200);
        const chip = await a.locator('header [data-nb-balance]').innerText();
        assert.doesNotMatch(chip, /777/, 'the second account\'s balance beside the first one\'s history');
        assert.match(chip, /\b100 credits/);
    });

    await step('tab A: Load more appends nothing of the second account and says why, with a Reload link', async () => {
        const asked = a.waitForResponse((r) => r.url().includes('/qwen/api/history'));
        await a.locator('.nbm-more').click();
        await asked;
        const s = await said(a.locator('.nbm-history .nbm-error'));
        const prompts = await a.locator(`${HISTORY} .nbm-row-prompt`).allInnerTexts();
        assert.equal(prompts.filter((p) => p.startsWith('TWO')).length, 0, `the second account's history appended: ${prompts.join(', ')}`);
        assert.equal(prompts.length, 20);
        assert.match(s.text, /Another account signed in/);
        assert.equal(s.href, '/qwen/');
        await shot(a, 'load-more-refused');
    });

    await step('tab A: Send is refused, charges no one, and the message stays in the box', async () => {
        await a.locator('textarea').fill('hello from tab A');
        const asked = a.waitForResponse((r) => r.url().endsWith('/qwen/api/generate'));
        await a.locator('.nbm-generate').click();
        assert.equal((await asked).status(), 401);
        const s = await said(a.locator('.nbm-composer .nbm-error'));
        assert.match(s.text, /Another account signed in/);
        assert.equal(await a.locator('textarea').inputValue(), 'hello from tab A');
        assert.equal(balanceOf(twoId), 777, 'the second account was charged');
        assert.equal(balanceOf(oneId), 100);
        assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "prompt" = 'hello from tab A'`), '0');
    });

    await step('tab A: Reload shows the second account\'s page', async () => {
        await a.locator('.nbm-composer .nbm-error a').click();
        await a.locator(`${HISTORY} .nbm-row-prompt`, { hasText: 'TWO 1' }).first().waitFor();
        assert.equal(await a.locator('header .nb-user-name').innerText(), two.name);
    });

    await step('billing: Load more and Buy of the second account\'s page after the first signed in again', async () => {
        await a.goto(url('/billing'));
        await a.locator('[data-nbb-rows] tr').nth(19).waitFor();
        await a.locator('[data-nbb-balance]', { hasText: '777' }).waitFor();
        await a.locator('[data-nbb-packs] button').first().waitFor();
        await switchTo(b, one);
        await a.bringToFront();
        const asked = a.waitForResponse((r) => r.url().includes('/api/credits?') && r.url().includes('cursor'));
        await a.locator('[data-nbb-more]').click();
        await asked;
        const s = await said(a.locator('[data-nbb-ledger-error]'));
        assert.match(s.text, /Another account signed in/);
        assert.equal(s.href, '/billing');
        const years = await a.locator('[data-nbb-rows] time').evaluateAll((ts) => ts.map((x) => x.getAttribute('datetime').slice(0, 4)));
        assert.ok(!years.includes('2025'), `the first account's ledger appended under the second's: ${years.join(' ')}`);
        assert.match(await a.locator('[data-nbb-balance]').innerText(), /777/);

        await a.locator('[data-nbb-packs] button').first().click();
        const bought = await said(a.locator('[data-nbb-buy-error]'));
        assert.match(bought.text, /Another account signed in/);
        assert.equal(psql(`SELECT count(*) FROM "Purchase" WHERE "userId" IN (${lit(oneId)}, ${lit(twoId)})`), '0', 'a checkout was started');
        await shot(a, 'billing-refused');
    });

    await step('settings: Save name of the first account\'s page after the second signed in again', async () => {
        await a.goto(url('/settings'));
        await a.locator('body[data-nbs-ready]').waitFor();
        assert.equal(await a.locator('header .nb-user-name').innerText(), one.name);
        await switchTo(b, two);
        await a.bringToFront();
        const form = a.locator('form[data-nbs-name]');
        await form.locator('input[name="name"]').fill('Renamed From Tab A');
        await form.getByRole('button', { name: 'Save name' }).click();
        const s = await said(form.locator('[data-nbs-error]'));
        assert.match(s.text, /Another account signed in/);
        assert.equal(psql(`SELECT "name" FROM "User" WHERE "id" = ${lit(twoId)}`), two.name, 'the second account was renamed');
        assert.equal(psql(`SELECT "name" FROM "User" WHERE "id" = ${lit(oneId)}`), one.name);
    });

    await step('billing, after "Sign out everywhere" in tab B: Load more links to the sign-in page, which comes back', async () => {
        await a.goto(url('/billing'));
        await a.locator('[data-nbb-rows] tr').nth(19).waitFor();
        await b.goto(url('/settings'));
        await b.locator('body[data-nbs-ready]').waitFor();
        await b.locator('[data-nbs-signout-all]').click();
        await b.waitForURL((u) => u.pathname === '/api/auth/signin');
        await a.bringToFront();
        await a.locator('[data-nbb-more]').click();
        const s = await said(a.locator('[data-nbb-ledger-error]'));
        assert.match(s.text, /session has ended/);
        assert.equal(s.href, '/api/auth/signin?callbackUrl=%2Fbilling');
        await a.locator('[data-nbb-ledger-error] a').click();
        await signIn(a, two, '/billing');
        await a.locator('[data-nbb-rows] tr').nth(19).waitFor();
    });
    await a.close();
    await b.close();
});

// A download link (<a download>) cannot send X-Nano-User: the page asks
// first (found by the tabs2 probe).  Before, account one's settings page
// downloaded account two's export, and its billing page two's CSV,
// after two signed in in another tab; after a sign-out the download
// failed with nothing said on the page.
test('a download link on a page left open on one account downloads nothing of another, and says why', async (t) => {
    const one = newUser('dlone');
    const two = newUser('dltwo');
    await register(one);
    await register(two);
    const a = await context.newPage();
    const b = await context.newPage();
    const step = steps(t);
    const downloads = [];
    a.on('download', (d) => downloads.push(d));

    await step('settings: Download my data of the first account\'s page, after the second signed in', async () => {
        await switchTo(a, one);
        await a.goto(url('/settings'));
        await a.locator('body[data-nbs-ready]').waitFor();
        await switchTo(b, two);
        await a.bringToFront();
        const link = a.locator('[data-nbs-export]');
        assert.equal(await link.getAttribute('href'), '/api/account/export', 'the plain link (no JS) changed');
        await link.click();
        // the page's refusal is its decision: no download follows it
        const s = await said(a.locator('[data-nbs-export-error]'));
        assert.equal(downloads.length, 0, 'the second account\'s export was downloaded on the first one\'s page');
        assert.match(s.text, /Another account signed in/);
        assert.equal(s.href, '/settings');
        await shot(a, 'export-refused');
    });

    await step('settings, reloaded: the second account\'s own export downloads', async () => {
        await a.locator('[data-nbs-export-error] a').click();
        await a.locator('body[data-nbs-ready]').waitFor();
        const got = a.waitForEvent('download');
        await a.locator('[data-nbs-export]').click();
        const d = await got;
        const body = JSON.parse(fs.readFileSync(await d.path(), 'utf8'));
        assert.equal(body.profile.email, two.email);
        assert.equal(await a.locator('[data-nbs-export-error]').innerText(), '');
        downloads.length = 0;
    });

    await step('billing: Download CSV of the second account\'s page, after the first signed in', async () => {
        await a.goto(url('/billing'));
        await a.locator('[data-nbb-rows] tr').first().waitFor();
        await switchTo(b, one);
        await a.bringToFront();
        const link = a.locator('a[href="/api/credits.csv"]');
        await link.click();
        const s = await said(a.locator('[data-nbb-ledger-error]'));
        assert.equal(downloads.length, 0, 'the first account\'s CSV was downloaded on the second one\'s page');
        assert.match(s.text, /Another account signed in/);
        assert.equal(s.href, '/billing');
    });

    await step('billing, after a sign-out in tab B: Download CSV links to the sign-in page', async () => {
        await a.goto(url('/billing'));
        await a.locator('[data-nbb-rows] tr').first().waitFor();
        await b.goto(url('/'));
        await signOut(b);
        await a.bringToFront();
        await a.locator('a[href="/api/credits.csv"]').click();
        const s = await said(a.locator('[data-nbb-ledger-error]'));
        assert.equal(downloads.length, 0, 'the sign-in page was downloaded as the CSV');
        assert.match(s.text, /session has ended/);
        assert.equal(s.href, '/api/auth/signin?callbackUrl=%2Fbilling');
        await a.locator('[data-nbb-ledger-error] a').click();
        await signIn(a, one, '/billing');
        const got = a.waitForEvent('download');
        await a.locator('a[href="/api/credits.csv"]').click();
        const csv = fs.readFileSync(await (await got).path(), 'utf8');
        assert.match(csv, /signup/);
    });
    await a.close();
    await b.close();
});

// The lock of a download of this user's under way (platform.h's
// PLATFORM_EXPORT_LOCK or PLATFORM_CSV_LOCK), held by a psql session of
// its own, idle, until release() ends its input (this test's own
// child; a session busy in a query would keep it after psql left).
async function holdDownloadLock(lock, userId) {
    const child = spawn(PSQL, ['-X', '-q', '-tA', '-h', PG_SOCK, '-U', 'nano', '-d', 'nano'],
        { stdio: ['pipe', 'ignore', 'ignore'] });
    const gone = new Promise((r) => child.once('exit', r));
    child.stdin.write(`SELECT pg_advisory_lock(${lock}, hashtext(${lit(userId)}));\n`);
    const taken = () => psql(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
        AND classid = ${lock}::bigint::oid`) !== '0';
    for (let i = 0; i < 100 && !taken(); i++) await new Promise((r) => setTimeout(r, 100));
    const release = async () => {
        child.stdin.end();
        await gone;
        while (taken()) await new Promise((r) => setTimeout(r, 100));
    };
    if (!taken()) {
        await release();
        throw new Error('the download lock was not taken');
    }
    return release;
}

// One export and one ledger CSV at a time per user: a second is refused
// (429 export_in_progress).  The link's check asked only whose session
// it was, so the link went on and the browser got the refusal: a failed
// download, or the raw JSON, and nothing said on the page (found by the
// endsui probe).  The check now asks the download's HEAD too, and the
// page says why where the person clicked; once the other one ended the
// link downloads the file as before.
test('a download refused because one of the user\'s is still being written says so on the page, and the next one downloads', async (t) => {
    const user = newUser('dlbusy');
    const id = await register(user);
    const a = await context.newPage();
    const step = steps(t);
    const downloads = [];
    a.on('download', (d) => downloads.push(d));
    await switchTo(a, user);
    for (const [what, page, ready, link, error, lock, check] of [
        ['settings: Download my data', '/settings', 'body[data-nbs-ready]', '[data-nbs-export]',
            '[data-nbs-export-error]', 1702391919, (text) => assert.equal(JSON.parse(text).profile.email, user.email)],
        ['billing: Download CSV', '/billing', '[data-nbb-rows] tr', 'a[href="/api/credits.csv"]',
            '[data-nbb-ledger-error]', 1668441444, (text) => assert.match(text, /^createdAt,delta,reason/)],
    ]) {
        await step(`${what}, while another of the user's is being written`, async () => {
            await a.goto(url(page));
            await a.locator(ready).first().waitFor();
            const release = await holdDownloadLock(lock, id);
            try {
                await a.locator(link).click();
                await a.locator(error).filter({ hasText: /still being written|already being prepared/ }).waitFor();
                await a.waitForTimeout(500);
                assert.equal(downloads.length, 0, 'the refusal was downloaded');
                assert.equal(new URL(a.url()).pathname, page, 'the page was left for the refusal');
                assert.match(await a.locator(error).innerText(), /try again in a few seconds/);
            } finally {
                await release();
            }
        });
        await step(`${what}, once it ended: downloads, and the words go`, async () => {
            const got = a.waitForEvent('download');
            await a.locator(link).click();
            const d = await got;
            assert.equal(await d.failure(), null);
            check(fs.readFileSync(await d.path(), 'utf8'));
            assert.equal(await a.locator(error).innerText(), '');
            downloads.length = 0;
        });
    }
    await a.close();
});

// An image or a video opened on a page left open after a sign-out gets
// the sign-in page's 302 and showed as broken, with no words, and its
// Download link saved the sign-in page under the output's name (found by
// the tabs2 probe): the page says the session ended, with the sign-in
// link that comes back.
test('a generation opened on a page whose session ended says so, not a broken image or video', async (t) => {
    const user = newUser('media');
    const id = await register(user);
    for (const [module, kind, file, mime] of [['wan-2.5', 'video', 'out.webm', 'video/webm'], ['seedream', 'image', 'out.png', 'image/png']]) {
        psql(`INSERT INTO "Generation" ("id","userId","module","model","kind","status","prompt","outputs","cost","createdAt")
            VALUES (gen_random_uuid()::text, ${lit(id)}, ${lit(module)}, 'm', ${lit(kind)}, 'succeeded', ${lit(`MEDIA ${kind}`)},
                ${lit(JSON.stringify([{ file, mime, width: 64, height: 64 }]))}::jsonb, 1, now() AT TIME ZONE 'utc')`);
    }
    const a = await context.newPage();
    const b = await context.newPage();
    const step = steps(t);
    await switchTo(a, user);

    for (const [module, kind] of [['wan-2.5', 'video'], ['seedream', 'img']]) {
        await step(`/${module}/: the ${kind} opened after a sign-out in tab B`, async () => {
            await a.goto(url(`/${module}/`));
            const card = a.locator(HISTORY).first();
            await card.waitFor();
            await a.waitForTimeout(500);
            assert.equal(await a.locator('.nbm-history .nbm-error').innerText(), '', 'a signed-in page said the session ended');
            await b.goto(url('/'));
            await signOut(b);
            await a.bringToFront();
            const downloads = [];
            const saved = (d) => downloads.push(d);
            a.on('download', saved);
            await card.getByRole('link', { name: /^Download:/ }).click();
            const d = await said(a.locator('.nbm-history > .nbm-error'));
            a.off('download', saved);
            assert.equal(downloads.length, 0, 'the sign-in page was downloaded under the output\'s name');
            assert.match(d.text, /session has ended/);
            await card.locator('.nbm-thumb').click();
            const dialog = a.locator('dialog[open]');
            await dialog.locator(`figure ${kind}`).waitFor();
            const s = await said(dialog.locator('figure .nbm-error'));
            assert.match(s.text, /session has ended/);
            // the page itself: the gateway's sign-in redirect comes back to
            // it (on a module's own domain too)
            assert.equal(s.href, `/${module}/`);
            await shot(a, `media-${kind}-signed-out`);
            await dialog.locator(`figure .nbm-error a`).click();
            await signIn(a, user, `/${module}/`);
        });
    }
    await a.close();
    await b.close();
});

test('a page opened at a path nginx folds into the module\'s (//evil.example/..%2fseedream/) links back to this site when its session ends, never to that host', async (t) => {
    // nginx decodes %2f and resolves the dots, so the module's page is
    // served at this path too, and the browser keeps it as written: a link
    // built from location.pathname was //evil.example/..., another site
    // (found by the security probe)
    const user = newUser('fold');
    await register(user);
    const a = await context.newPage();
    const b = await context.newPage();
    const step = steps(t);
    await switchTo(a, user);

    await step('the page at the folded path, then a sign-out in tab B, then Generate', async () => {
        await a.goto(`${ORIGIN}//evil.example/..%2fseedream/`);
        assert.equal(new URL(a.url()).pathname, '//evil.example/..%2fseedream/');
        await a.locator('[data-nb-tool] .nbm-generate:enabled').waitFor();
        await b.goto(url('/'));
        await signOut(b);
        await a.bringToFront();
        await a.getByLabel('Prompt').fill('Folded path');
        await a.locator('.nbm-generate').click();
        const s = await said(a.locator('.nbm-error', { hasText: /session has ended/ }).first());
        const target = new URL(s.href, a.url());
        assert.equal(target.origin, ORIGIN, `the Sign in link ${s.href} leaves the site`);
        assert.equal(s.href, '/evil.example/..%2fseedream/');
    });
    await a.close();
    await b.close();
});
