// Generating in a real browser against the real stack (issue 6): a person
// signs up, makes an image with nano-banana (the fake Gemini), watches an
// answer stream in on qwen (the fake DashScope), starts a video on wan-2.5
// (the fake DashScope task) and sees it finish and play, finds all three in
// the history of their modules, and deletes one.  Headless Debian chromium
// through playwright-core; screenshots to build/tests/screenshots/gen-*.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = (process.env.NANO_TEST_BASE || 'http://127.0.0.1:18080').replace(/\/$/, '');
const CHROMIUM = process.env.NANO_TEST_CHROMIUM || '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = path.join(ROOT, 'build/tests/screenshots');
const TIMEOUT = 30000;

let profile;
let context;
const problems = [];

before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
            '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--autoplay-policy=no-user-gesture-required',
        ],
        viewport: { width: 1200, height: 800 },
        locale: 'en-US',
        timeout: 30000,
    });
    context.setDefaultTimeout(TIMEOUT);
    const answered = new WeakSet();
    context.on('response', (res) => {
        answered.add(res.request());
        if (res.status() >= 400) problems.push(`${res.request().method()} ${res.url()}: ${res.status()}`);
    });
    context.on('requestfailed', (req) => {
        const why = req.failure()?.errorText;
        // a media element that drops its request for a range, or a
        // navigation that drops an unread body, is no failure
        if (why === 'net::ERR_ABORTED') return;
        problems.push(`${req.method()} ${req.url()} failed: ${why}`);
    });
});

after(async () => {
    await context?.close().catch(() => {});
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `gen-${name}.png`), fullPage: true });

test('sign up, generate an image, stream text, make a video, find them in history, delete one', async (t) => {
    const page = await context.newPage();
    const id = crypto.randomBytes(4).toString('hex');
    const email = `gen-${id}@example.com`;

    await t.test('sign up from a module lands back on it with 100 credits', async () => {
        await page.goto(`${BASE}/nano-banana/`);
        await page.waitForURL(/\/api\/auth\/signin/);
        await page.getByRole('link', { name: /create one/i }).click();
        await page.getByLabel('Name').fill(`Gen ${id}`);
        await page.getByLabel('Email').fill(email);
        await page.getByLabel('Password').fill(`pw-${id}-long-enough`);
        await page.getByRole('button', { name: /create account|sign up/i }).click();
        await page.waitForURL(`${BASE}/nano-banana/`);
        await page.locator('header .nbm-balance', { hasText: '100 credits' }).waitFor();
    });

    let imageId;
    await t.test('nano-banana: an image from the (fake) provider, with progress', async () => {
        const form = page.locator('form.nbm-form');
        await form.getByLabel('Prompt').fill('A ripe banana surfing a wave');
        await page.locator('.nbm-generate:enabled').click();
        const result = page.locator('.nbm-result');
        await result.locator('.nbm-badge', { hasText: /Queued|Generating/ }).first().waitFor();
        const img = result.locator('figure img');
        await img.waitFor();
        await page.waitForFunction(() => document.querySelector('.nbm-result figure img')?.naturalWidth > 0);
        await page.locator('header .nbm-balance', { hasText: '96 credits' }).waitFor();
        imageId = await page.locator('.nbm-grid > li').first().getAttribute('data-id');
        assert.ok(imageId, 'the image is first in the history');
        await shot(page, 'image');
    });

    await t.test('seedream: Ctrl+Enter pressed twice and held makes one generation', async () => {
        await page.goto(`${BASE}/seedream/`);
        const form = page.locator('form.nbm-form');
        await page.locator('.nbm-generate:enabled').waitFor();
        const posts = [];
        const count = (req) => {
            if (req.method() === 'POST' && new URL(req.url()).pathname === '/seedream/api/generate') posts.push(req);
        };
        page.on('request', count);
        const prompt = form.getByLabel('Prompt');
        await prompt.fill('One banana, not many');
        await prompt.focus();
        // twice quickly, then held: a second down of a held key is a repeat
        await page.keyboard.down('Control');
        await page.keyboard.press('Enter');
        await page.keyboard.press('Enter');
        await page.keyboard.down('Enter');
        for (let i = 0; i < 8; i++) await page.keyboard.down('Enter');
        await page.keyboard.up('Enter');
        await page.keyboard.up('Control');
        await page.locator('.nbm-result figure img').waitFor();
        await page.waitForTimeout(500);
        page.off('request', count);
        assert.equal(posts.length, 1, 'one POST /seedream/api/generate');
        await page.locator('.nbm-grid > li').first().waitFor();
        assert.equal(await page.locator('.nbm-grid > li').count(), 1, 'one generation in the history');
    });

    await t.test('a prompt over the server\'s 8000 bytes is refused before sending, naming the limit', async () => {
        const posts = [];
        const count = (req) => {
            if (req.method() === 'POST' && /\/api\/generate$/.test(req.url())) posts.push(req.url());
        };
        page.on('request', count);
        // 3000 CJK characters, 9000 bytes
        const long = '香蕉'.repeat(1500);
        const prompt = page.locator('form.nbm-form').getByLabel('Prompt');
        await prompt.fill(long);
        await page.locator('.nbm-generate:enabled').click();
        await page.locator('form.nbm-form .nbm-error', { hasText: /at most 8000 bytes \(about 2666 characters of this text\)/ }).waitFor();
        assert.equal(await prompt.getAttribute('aria-invalid'), 'true');
        await page.goto(`${BASE}/qwen/`);
        const box = page.getByLabel('Your message');
        await box.fill(long);
        await box.press('Enter');
        await page.locator('.nbm-composer .nbm-error', { hasText: /at most 8000 bytes/ }).waitFor();
        assert.equal(await box.getAttribute('aria-invalid'), 'true');
        assert.equal(await box.inputValue(), long, 'the message stays in the box');
        page.off('request', count);
        assert.deepEqual(posts, [], 'nothing sent');
        await box.fill('');
        await page.goto(`${BASE}/seedream/`);
    });

    await t.test('qwen: the answer streams in word by word', async () => {
        await page.locator('header nav a[href="/qwen"]').click();
        await page.waitForURL(`${BASE}/qwen`);
        const box = page.getByLabel('Your message');
        await box.fill('Tell me about bananas');
        await box.press('Enter');
        const lengths = [];
        const t0 = Date.now();
        for (;;) {
            const state = await page.evaluate(() => {
                const msg = [...document.querySelectorAll('.nbm-msg-assistant')].at(-1);
                return msg ? { len: msg.querySelector('.nbm-msg-text').textContent.length,
                               busy: msg.getAttribute('aria-busy') } : null;
            });
            if (state && lengths.at(-1) !== state.len) lengths.push(state.len);
            if (lengths.length === 4) await shot(page, 'text-streaming');
            if ((state && state.busy === 'false') || Date.now() - t0 > TIMEOUT) break;
            await new Promise((r) => setTimeout(r, 15));
        }
        assert.ok(lengths.length >= 4, `the answer grew in steps: ${lengths.join(', ')}`);
        const text = await page.locator('.nbm-msg-assistant').last().locator('.nbm-msg-text').innerText();
        assert.match(text, /Fake reply from qwen/);
        await page.locator('.nbm-list > li').first().filter({ hasText: 'Tell me about bananas' }).waitFor();
        await shot(page, 'text');
    });

    await t.test('qwen: "Continue this conversation" leaves focus in the message box', async () => {
        await page.locator('.nbm-list > li').first().locator('.nbm-row-open').click();
        await page.getByRole('dialog').getByRole('button', { name: 'Continue this conversation' }).click();
        await page.getByRole('dialog').waitFor({ state: 'hidden' });
        // the focus moves once the dialog has closed: waited for, not slept
        const box = await page.getByLabel('Your message').getAttribute('id');
        await page.waitForFunction((id) => document.activeElement?.id === id, box, { timeout: 2000 }).catch(() => {});
        assert.equal(await page.evaluate(() => document.activeElement?.id), box);
    });

    await t.test('qwen: Stop before any text is shown says whether it was charged', async () => {
        const balance = page.locator('header .nbm-balance');
        const credits = async () => Number((await balance.innerText()).match(/(-?\d+) credit/)[1]);
        const stopAfter = async (prompt) => {
            await page.getByLabel('Your message').fill(prompt);
            await page.getByLabel('Your message').press('Enter');
            await page.waitForTimeout(500);
            await page.getByRole('button', { name: 'Stop', exact: true }).click();
            const meta = page.locator('.nbm-msg-assistant').last().locator('.nbm-msg-meta');
            await meta.filter({ hasNotText: 'Checking' }).waitFor({ timeout: TIMEOUT });
            return meta.innerText();
        };
        // the provider has not answered when the server sees the reader gone
        const before = await credits();
        assert.equal(await stopAfter('Stop me early [fake:slow=12000]'), 'Stopped before any answer; nothing was charged.');
        await page.locator('.nbm-list > li').first().filter({ hasText: 'Stop me early' }).waitFor();
        assert.equal(await credits(), before, 'nothing charged');
        // it answered (unseen by the page) before the server saw the reader gone
        assert.match(await stopAfter('Stop me late [fake:slow=3000]'), /^Stopped\. 1 credit charged/);
        await page.locator('.nbm-list > li').first().filter({ hasText: 'Stop me late' })
            .locator('.nbm-badge', { hasText: 'Stopped early' }).waitFor();
        await balance.filter({ hasText: `${before - 1} credits` }).waitFor();
    });

    await t.test('wan-2.5: a video job runs, finishes and plays', async () => {
        await page.locator('header nav a[href="/wan-2.5"]').click();
        await page.waitForURL(`${BASE}/wan-2.5`);
        const form = page.locator('form.nbm-form');
        await form.getByLabel('Prompt').fill('A banana boat at sunset');
        await page.locator('.nbm-generate:enabled').click();
        await page.locator('.nbm-result .nbm-badge', { hasText: /Queued|Generating/ }).first().waitFor();
        await shot(page, 'video-running');
        const video = page.locator('.nbm-result video');
        await video.waitFor();
        await page.waitForFunction(() => document.querySelector('.nbm-result video')?.readyState >= 2, null, { timeout: TIMEOUT });
        // (the test stack's wan-2.5 uses the fake DashScope, whose clip
        // is 1 s; the offline one's length is checked in modules.test)
        assert.ok(await video.evaluate((v) => v.duration > 0), 'the video has a duration');
        await shot(page, 'video');
    });

    await t.test('all three are in their histories; deleting the image removes it', async () => {
        await page.goto(`${BASE}/qwen/`);
        await page.locator('.nbm-list > li', { hasText: 'Tell me about bananas' }).waitFor();
        await page.goto(`${BASE}/wan-2.5/`);
        await page.locator('.nbm-grid > li').first().waitFor();
        assert.equal(await page.locator('.nbm-grid > li').count(), 1);
        await page.goto(`${BASE}/nano-banana/`);
        const card = page.locator(`.nbm-grid > li[data-id="${imageId}"]`);
        await card.waitFor();
        await card.getByRole('button', { name: /^Delete/ }).click();
        await page.getByRole('dialog', { name: 'Delete' }).getByRole('button', { name: 'Delete' }).click();
        await card.waitFor({ state: 'detached' });
        await page.reload();
        await page.locator('.nbm-empty:visible').waitFor();
        await shot(page, 'deleted');
        const gone = await page.request.get(`${BASE}/nano-banana/api/generations/${imageId}`);
        assert.equal(gone.status(), 404, 'the generation is gone');
        problems.splice(0, problems.length, ...problems.filter((p) => !p.endsWith(`/api/generations/${imageId}: 404`)));
    });

    await t.test('no request failed or answered an error', () => {
        assert.deepEqual(problems, []);
    });
    await page.close();
});
