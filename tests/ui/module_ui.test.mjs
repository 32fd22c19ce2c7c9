// The module pages in a real browser, without the stack: tests/ui/server.mjs
// serves backends/ui/ and each backends/<m>/public/index.html (rendered as
// libnano does) and mocks the module API of docs/MODULES.md; headless
// Debian chromium, driven by playwright-core from tests/browser/node_modules
// (never downloads a browser), generates an image (with an upload), streams
// text, plays a video, pages and deletes history, and reads every error in
// words.  Screenshots: build/tests/screenshots/ui-*.png.
//
//   npm ci --prefix tests/browser && node --test tests/ui/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startServer, USER, MODULES, png } from './server.mjs';
import { contrastProblems } from './contrast.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(ROOT, 'tests/browser/package.json'));
const { chromium } = require('playwright-core');
const CHROMIUM = process.env.NANO_TEST_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'build/tests/screenshots');
const TIMEOUT = 15000;
const HOME_TITLE = /<title>([^<]*)<\/title>/.exec(fs.readFileSync(path.join(ROOT, 'backends/platform/public/home.html'), 'utf8'))[1];

let mock;
let browser;
let desktop;

before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (scripts/deps.sh does)`);
    fs.mkdirSync(SHOTS, { recursive: true });
    mock = await startServer();
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
    desktop = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: 'en-US' });
    desktop.setDefaultTimeout(TIMEOUT);
});

after(async () => {
    await browser?.close().catch(() => {});
    await mock?.close();
});

const shot = (page, name, fullPage = true) => page.screenshot({ path: path.join(SHOTS, `ui-${name}.png`), fullPage });

// A page of module m, its tool built; page.problems collects script errors,
// console errors (CSP violations among them) and answers of 400 or more.
async function open(m, context = desktop) {
    const page = await context.newPage();
    page.errors = [];
    page.bad = [];
    page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
    page.on('console', (msg) => {
        // the browser's own line for each 4xx fetch; page.bad has those
        if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) page.errors.push(`console: ${msg.text()}`);
    });
    page.on('response', (res) => {
        if (res.status() >= 400) page.bad.push(`${res.request().method()} ${new URL(res.url()).pathname} ${res.status()}`);
    });
    await page.goto(`${mock.url}/${m}/`);
    await page.locator('[data-nb-tool] .nbm-generate:enabled').waitFor();
    return page;
}

function clean(page, { bad = [] } = {}) {
    assert.deepEqual(page.errors, [], 'no script or console errors');
    assert.deepEqual(page.bad.filter((b) => !bad.some((re) => re.test(b))), [], 'no unexpected 4xx/5xx');
}

const lastRequest = (m, re = /\/api\/generate$/) => mock.state.requests.filter((r) => r.module === m && re.test(r.path)).at(-1);
const requestCount = () => mock.state.requests.length;
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

// An error region says its piece in words and never shows JSON.
async function saysInWords(locator, re) {
    await assert.doesNotReject(locator.filter({ hasText: re }).first().waitFor(), `expected ${re}`);
    const text = await locator.first().innerText();
    assert.match(text, re);
    assert.ok(!/[{}]|"error"|invalid_field|insufficient_credits|too_many/.test(text), `no raw JSON or codes: ${text}`);
    return text;
}

test('every module page: title, the escaped name, header, price, offline badge, no unknown placeholder', async () => {
    for (const m of Object.keys(MODULES)) {
        const page = await open(m);
        const mod = MODULES[m];
        assert.match(await page.locator('main h1').innerText(), new RegExp(mod.title.replace('.', '\\.'), 'i'));
        // the module, then the site, as every platform page: "Nano Banana"
        // alone was the home page's title too, and "Qwen" named no site
        assert.equal(await page.title(), `${mod.title} — Nano Banana`);
        assert.notEqual(await page.title(), HOME_TITLE, 'not the home page\'s title');
        assert.equal(await page.locator('header .nb-user-name').innerText(), USER.name, 'the name, escaped by the template');
        assert.ok((await page.locator('main').innerText()).includes(USER.name), 'the name on the page');
        assert.equal(await page.locator(`header nav a[href="/${m}"]`).getAttribute('aria-current'), 'page');
        const verb = mod.kind === 'text' ? 'Send' : 'Generate';
        const cost = mod.models[0].cost;
        assert.equal(await page.locator('.nbm-generate').innerText(), `${verb} · ${cost} credit${cost === 1 ? '' : 's'}`);
        await page.locator('header .nbm-balance').filter({ hasText: /\d+ credits?/ }).waitFor();
        assert.equal(await page.locator('.nbm-badge-offline').count(), mod.offline ? 1 : 0, `${m}: offline badge`);
        assert.equal(await page.locator('select[name="model"]').count(), mod.models.length > 1 ? 1 : 0, `${m}: model choice`);
        assert.equal(await page.locator('input[type="file"]').count(), m === 'nano-banana' ? 1 : 0, `${m}: upload`);
        await page.locator('.nbm-history li').first().or(page.locator('.nbm-empty:visible')).first().waitFor();
        assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scroll');
        if (m === 'grok') assert.match(await page.locator('.nbm-empty').innerText(), /Nothing here yet/);
        if (m === 'seedream') await shot(page, 'seedream-offline');
        clean(page);
        await page.close();
    }
    assert.deepEqual([...mock.state.unknownPlaceholders], [], 'templates use only the placeholders libnano fills');
});

test('the SSE parser gives the same events however the stream is split', async () => {
    const page = await open('qwen');
    const result = await page.evaluate(async () => {
        const { SSEParser } = await import('/ui/module.js');
        const stream = ': ping\r\n\r\nevent: delta\r\ndata: {"text":"naïve "}\r\n\r\n'
            + 'event: delta\ndata: {"text":"two\\nlines"}\n\n: comment\n\n'
            + 'data: first\ndata: second\n\nevent: done\rdata: {"id":"g1","cost":1}\r\r';
        const all = (parts) => {
            const p = new SSEParser();
            const out = parts.flatMap((x) => p.push(x));
            return JSON.stringify(out.concat(p.end()));
        };
        const whole = all([stream]);
        let mismatches = 0;
        let splits = 0;
        for (let i = 0; i <= stream.length; i++) {
            for (let j = i; j <= stream.length; j += 3) {
                splits++;
                if (all([stream.slice(0, i), stream.slice(i, j), stream.slice(j)]) !== whole) mismatches++;
            }
        }
        return { whole: JSON.parse(whole), mismatches, splits };
    });
    assert.deepEqual(result.whole, [
        { event: 'delta', data: '{"text":"naïve "}' },
        { event: 'delta', data: '{"text":"two\\nlines"}' },
        { event: 'message', data: 'first\nsecond' },
        { event: 'done', data: '{"id":"g1","cost":1}' },
    ]);
    assert.equal(result.mismatches, 0, `of ${result.splits} splits`);
    clean(page);
    await page.close();
});

test('nano-banana: an uploaded image (multipart), progress queued → running with the time, then the image', async () => {
    const page = await open('nano-banana');
    const before = mock.state.balance;
    const form = page.locator('form.nbm-form');
    const title = page.locator('.nbm-drop-title');
    const titleSays = () => title.evaluate((t) => t.textContent + getComputedStyle(t, '::after').content.replace(/^none$/, ''));
    assert.equal(await titleSays(), 'Add an image to edit (optional)');
    // drag and drop first, then the file chooser replaces it
    await page.locator('.nbm-drop').evaluate(async (zone, bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' }));
        zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [...png(32, 32, 'drop')]);
    await page.locator('.nbm-drop-name', { hasText: 'dropped.png' }).waitFor();
    await page.locator('input[type="file"]').setInputFiles({ name: 'cat.png', mimeType: 'image/png', buffer: png(48, 40, 'cat') });
    await page.locator('.nbm-drop-name', { hasText: 'cat.png' }).waitFor();
    assert.ok(await page.locator('.nbm-drop-preview img').evaluate((i) => i.complete && i.naturalWidth === 48), 'the preview shows');
    // with an image chosen the title no longer asks to add one (it read
    // "Add an image to edit (optional) · replace")
    assert.equal(await titleSays(), 'The image to edit: choose or drop another to replace it');
    await page.getByRole('button', { name: 'Remove image' }).click();
    assert.equal(await titleSays(), 'Add an image to edit (optional)');
    await page.locator('input[type="file"]').setInputFiles({ name: 'cat.png', mimeType: 'image/png', buffer: png(48, 40, 'cat') });
    await page.locator('.nbm-drop-name', { hasText: 'cat.png' }).waitFor();

    await form.getByLabel('Prompt').fill('Put a tiny crown on the cat');
    await form.getByLabel('Aspect ratio').selectOption('16:9');
    await form.getByLabel('Seed (optional)').fill('42');
    assert.equal(await page.locator('.nbm-generate').innerText(), 'Generate · 4 credits');
    await page.locator('.nbm-generate').click();

    const result = page.locator('.nbm-result');
    await result.locator('.nbm-badge', { hasText: 'Queued' }).waitFor();
    await result.locator('.nbm-clock').filter({ hasText: /^\d+:\d\d$/ }).waitFor();
    await result.locator('.nbm-badge', { hasText: 'Generating' }).waitFor();
    assert.equal(await result.getAttribute('aria-busy'), 'true');
    await shot(page, 'image-running');
    const img = result.locator('figure img');
    await img.waitFor();
    await page.waitForFunction(() => document.querySelector('.nbm-result figure img')?.naturalWidth > 0);
    assert.match(await result.innerText(), /Done in \d+:\d\d · 4 credits/);
    assert.equal(await result.getByRole('link', { name: /^Download/ }).getAttribute('download') !== null, true);

    const sent = lastRequest('nano-banana');
    assert.equal(sent.contentType, 'multipart/form-data');
    assert.equal(sent.fields.prompt, 'Put a tiny crown on the cat');
    assert.equal(sent.fields.aspectRatio, '16:9');
    assert.equal(sent.fields.seed, '42');
    assert.equal(sent.fields.image.name, 'cat.png');
    assert.equal(sent.fields.model, undefined, 'one model: none named');

    await page.locator('header .nbm-balance', { hasText: `${before - 4} credits` }).waitFor();
    assert.equal(await page.locator('.nbm-grid > li').first().locator('.nbm-card-prompt').innerText(), 'Put a tiny crown on the cat');
    await shot(page, 'image-result');
    clean(page);
    await page.close();
});

test('seedream: JSON body with size and seed; the keyboard reaches everything; Ctrl+Enter generates', async () => {
    const page = await open('seedream');
    // Tab from the top reaches the prompt
    let tabs = 0;
    while (!(await page.evaluate(() => document.activeElement?.name === 'prompt')) && tabs++ < 40) await page.keyboard.press('Tab');
    assert.ok(tabs < 40, 'Tab reaches the prompt');
    const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(ring, 'none', 'the focused field shows a focus ring');
    await page.keyboard.type('A quiet harbour at dawn');
    await page.locator('form.nbm-form').getByLabel('Size').selectOption('1024x1024');
    await page.locator('form.nbm-form').getByLabel('Seed (optional)').fill('7');
    await page.locator('form.nbm-form').getByLabel('Prompt').focus();
    await page.keyboard.press('Control+Enter');
    await page.locator('.nbm-result figure img').waitFor();
    const sent = lastRequest('seedream');
    assert.equal(sent.contentType, 'application/json');
    assert.deepEqual(sent.json, { prompt: 'A quiet harbour at dawn', size: '1024x1024', seed: 7 });
    assert.match(await page.locator('.nbm-result').innerText(), /offline placeholder/);

    // a history entry opens from the keyboard; Escape closes; focus comes back
    const thumb = page.locator('.nbm-grid .nbm-thumb').first();
    await thumb.focus();
    assert.notEqual(await thumb.evaluate((b) => getComputedStyle(b).outlineStyle), 'none', 'focus ring on a card');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Your image' });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /A quiet harbour at dawn/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.ok(await thumb.evaluate((b) => b === document.activeElement), 'focus returns to the card');
    clean(page);
    await page.close();
});

test('qwen: text streams in as it is written, then usage and cost; "continue" sends the conversationId', async () => {
    const page = await open('qwen');
    await page.locator('select[name="model"]').selectOption('qwen-max');
    assert.equal(await page.locator('.nbm-generate').innerText(), 'Send · 2 credits');
    const box = page.getByLabel('Your message');
    await box.fill('Why are bananas curved?');
    await box.press('Enter');
    let screenshotTaken = false;
    const lengths = [];
    const t0 = Date.now();
    for (;;) {
        const state = await page.evaluate(() => {
            const msg = [...document.querySelectorAll('.nbm-msg-assistant')].at(-1);
            return msg ? { len: msg.querySelector('.nbm-msg-text').textContent.length, busy: msg.getAttribute('aria-busy') } : null;
        });
        if (state && lengths.at(-1) !== state.len) lengths.push(state.len);
        if (state && state.len > 60 && !screenshotTaken) {
            screenshotTaken = true;
            await shot(page, 'text-streaming', false);
        }
        if ((state && state.busy === 'false') || Date.now() - t0 > TIMEOUT) break;
        await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(lengths.length >= 8, `the text grew in many steps: ${lengths.join(', ')}`);
    assert.deepEqual([...lengths].sort((a, b) => a - b), lengths, 'only ever grew');
    const answer = page.locator('.nbm-msg-assistant').last();
    const text = await answer.locator('.nbm-msg-text').innerText();
    assert.ok(text.startsWith('You asked: “Why are bananas curved?”.'), text);
    assert.ok(text.includes('naïve as that sounds — café au lait') && text.endsWith('✓ Done.'), `multi-byte characters intact: ${text}`);
    assert.match(await answer.locator('.nbm-msg-meta').innerText(), /^\d+ tokens · 2 credits$/);
    const first = lastRequest('qwen').json;
    assert.deepEqual(first, { prompt: 'Why are bananas curved?', stream: true, model: 'qwen-max' });
    assert.equal(await box.getAttribute('enterkeyhint'), 'send', 'with a mouse, Enter sends');
    await page.locator('.nbm-list > li').first().filter({ hasText: 'Why are bananas curved?' }).waitFor();

    await box.fill('And why yellow?');
    await page.locator('.nbm-generate').click();
    await page.locator('.nbm-msg-assistant[aria-busy="false"]').nth(1).waitFor();
    const second = lastRequest('qwen').json;
    assert.ok(second.conversationId, 'the second message continues the conversation');
    assert.equal(mock.state.gens.get([...mock.state.gens.values()].find((g) => g.prompt === 'Why are bananas curved?').id).conversationId,
        second.conversationId);
    assert.match(await page.locator('.nbm-msg-assistant').nth(1).innerText(), /Turn 2 of our conversation/);
    await shot(page, 'text-conversation');

    await page.getByRole('button', { name: 'New conversation' }).click();
    assert.equal(await page.locator('.nbm-msg').count(), 0);
    await box.fill('A fresh start');
    await box.press('Enter');
    await page.locator('.nbm-msg-assistant[aria-busy="false"]').waitFor();
    assert.equal(lastRequest('qwen').json.conversationId, undefined, 'a new conversation has no id');
    clean(page);
    await page.close();
});

test('grok: Stop aborts the stream and keeps what was written', async () => {
    const page = await open('grok');
    const box = page.getByLabel('Your message');
    await box.fill('#slow tell me a long story');
    await box.press('Enter');
    const answer = page.locator('.nbm-msg-assistant').last();
    await page.waitForFunction(() => document.querySelector('.nbm-msg-assistant .nbm-msg-text')?.textContent.length > 20);
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('.nbm-msg-assistant[aria-busy="false"]').waitFor();
    const kept = await answer.locator('.nbm-msg-text').innerText();
    assert.ok(kept.length > 20, 'the partial answer stays');
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(await answer.locator('.nbm-msg-text').innerText(), kept, 'nothing more arrives after Stop');
    assert.ok(await page.locator('.nbm-generate').isEnabled());
    assert.ok(await page.getByRole('button', { name: 'Stop' }).isHidden());
    // what the server recorded: charged, and in history marked as stopped
    await answer.locator('.nbm-msg-meta', { hasText: /Stopped\. \d+ credits? charged/ }).waitFor();
    await page.locator('.nbm-list > li', { hasText: 'tell me a long story' }).first().locator('.nbm-badge', { hasText: 'Stopped early' }).waitFor();
    clean(page);
    await page.close();
});

test('wan-2.5: a video job with size and length, progress, then a video that plays', async () => {
    const page = await open('wan-2.5');
    const form = page.locator('form.nbm-form');
    await form.getByLabel('Prompt').fill('A kite over the beach');
    // the sizes and lengths /api/models lists, in its order, the first
    // chosen (the page kept a list of its own until the apiedges probe)
    const choices = (name) => form.getByLabel(name).locator('option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(await choices('Size'), [
        ['1280x720', 'Landscape 720p · 1280 × 720'], ['720x1280', 'Portrait 720p · 720 × 1280'],
        ['832x480', 'Landscape 480p · 832 × 480'], ['480x832', 'Portrait 480p · 480 × 832'],
        ['1920x1080', 'Landscape 1080p · 1920 × 1080'], ['1080x1920', 'Portrait 1080p · 1080 × 1920'],
    ]);
    assert.equal(await form.getByLabel('Size').inputValue(), '1280x720');
    assert.deepEqual(await choices('Length'), [['5', '5 seconds']]);
    await form.getByLabel('Size').selectOption('720x1280');
    await form.getByLabel('Length').selectOption('5');
    assert.equal(await page.locator('.nbm-generate').innerText(), 'Generate · 20 credits');
    await page.locator('.nbm-generate').click();
    await page.locator('.nbm-result .nbm-badge', { hasText: /Queued|Generating/ }).first().waitFor();
    assert.match(await page.locator('.nbm-result').innerText(), /Videos take a few minutes/);
    const video = page.locator('.nbm-result video');
    await video.waitFor();
    assert.equal(await video.getAttribute('controls'), '');
    await page.waitForFunction(() => document.querySelector('.nbm-result video')?.readyState >= 2, null, { timeout: TIMEOUT });
    const played = await video.evaluate(async (v) => {
        v.muted = true;
        await v.play();
        await new Promise((r) => setTimeout(r, 400));
        return v.currentTime;
    });
    assert.ok(played > 0, `the video plays (currentTime ${played})`);
    assert.deepEqual(lastRequest('wan-2.5').json, { prompt: 'A kite over the beach', size: '720x1280', duration: 5 });
    await shot(page, 'video');
    clean(page, { bad: [] });
    await page.close();
});

test('seedream: a queued job can be canceled, and the credits come back', async () => {
    const page = await open('seedream');
    const saved = { ...mock.state.timing };
    mock.state.timing.queuedMs = 60000;
    try {
        const before = mock.state.balance;
        await page.locator('form.nbm-form').getByLabel('Prompt').fill('Never mind this one');
        await page.locator('.nbm-generate').click();
        await page.locator('.nbm-result .nbm-badge', { hasText: 'Queued' }).waitFor();
        await page.locator('header .nbm-balance', { hasText: `${before - 3} credits` }).waitFor();
        await page.locator('.nbm-result').getByRole('button', { name: 'Cancel' }).click();
        await page.locator('.nbm-result', { hasText: 'Canceled. 3 credits went back to your balance.' }).waitFor();
        await page.locator('header .nbm-balance', { hasText: `${before} credits` }).waitFor();
        assert.match(lastRequest('seedream', /\/cancel$/).path, /^\/seedream\/api\/generations\/[^/]+\/cancel$/);
        await page.locator('.nbm-grid > li').first().filter({ hasText: 'Canceled' }).waitFor();
    } finally {
        mock.state.timing = saved;
    }
    clean(page);
    await page.close();
});

test('seedream: Cancel just too late says so, and the words stay when the job starts', async () => {
    const page = await open('seedream');
    const saved = { ...mock.state.timing };
    mock.state.timing.queuedMs = 1500;
    try {
        // the server's answer when the job started between poll and press
        await page.route('**/cancel', (route) => route.fulfill({
            status: 409, contentType: 'application/json', body: JSON.stringify({ error: 'not_queued', message: 'x' }),
        }));
        await page.locator('form.nbm-form').getByLabel('Prompt').fill('Too late to stop');
        await page.locator('.nbm-generate').click();
        await page.locator('.nbm-result .nbm-badge', { hasText: 'Queued' }).waitFor();
        await page.locator('.nbm-result').getByRole('button', { name: 'Cancel' }).click();
        const late = page.locator('.nbm-result .nbm-error', { hasText: 'It has already started, so it can no longer be canceled.' });
        await late.waitFor();
        await page.locator('.nbm-result .nbm-badge', { hasText: 'Generating' }).waitFor();
        assert.ok(await late.isVisible(), 'still said once it runs');
    } finally {
        mock.state.timing = saved;
    }
    clean(page, { bad: [/\/cancel 409/] });
    await page.close();
});

test('history: Load more until the end, open an entry, download it, delete (with a confirmation)', async () => {
    const page = await open('nano-banana');
    const cards = page.locator('.nbm-grid > li');
    await cards.first().waitFor();
    assert.equal(await cards.count(), 12, 'a first page of 12');
    const total = [...mock.state.gens.values()].filter((g) => g._module === 'nano-banana').length;
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.waitForFunction((n) => document.querySelectorAll('.nbm-grid > li').length === n, total);
    assert.ok(await page.getByRole('button', { name: 'Load more' }).isHidden(), 'no more pages: no button');

    // open the newest finished entry
    const card = cards.filter({ has: page.locator('img') }).first();
    const prompt = await card.locator('.nbm-card-prompt').innerText();
    await card.locator('.nbm-thumb').click();
    const dialog = page.getByRole('dialog', { name: 'Your image' });
    await dialog.waitFor();
    await page.waitForFunction(() => document.querySelector('dialog[open] figure img')?.naturalWidth > 0);
    assert.match(await dialog.innerText(), new RegExp(prompt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.match(await dialog.locator('.nbm-facts').innerText(), /Model\s+Gemini 2\.5 Flash Image/);
    const link = dialog.getByRole('link', { name: /^Download/ });
    const href = await link.getAttribute('href');
    assert.match(href, /^\/nano-banana\/media\/[^/]+\/0\.png$/);
    assert.match(await link.getAttribute('download'), /^nano-banana-.+-0\.png$/);
    const file = await page.request.get(`${mock.url}${href}`);
    assert.equal(file.status(), 200);
    assert.equal(file.headers()['content-type'], 'image/png');
    await shot(page, 'history-dialog', false);

    // Delete asks first; Cancel keeps it
    const id = await card.getAttribute('data-id');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete' });
    await confirm.waitFor();
    assert.match(await confirm.innerText(), /Delete this image\?/);
    await shot(page, 'history-confirm', false);
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    assert.ok(mock.state.gens.has(id), 'canceling the confirmation deletes nothing');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await page.locator(`.nbm-grid > li[data-id="${id}"]`).waitFor({ state: 'detached' });
    await dialog.waitFor({ state: 'hidden' });
    assert.ok(!mock.state.gens.has(id), 'DELETE reached the API');
    assert.equal(await page.locator('.nbm-history .nbm-status').innerText(), 'Deleted the image.');

    // and straight from a card
    const other = cards.filter({ has: page.locator('img') }).first();
    const id2 = await other.getAttribute('data-id');
    await other.getByRole('button', { name: /^Delete/ }).click();
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await page.locator(`.nbm-grid > li[data-id="${id2}"]`).waitFor({ state: 'detached' });
    assert.ok(!mock.state.gens.has(id2));

    // a failed entry says why in words
    await cards.filter({ hasText: 'Failed' }).first().locator('.nbm-thumb').click();
    await saysInWords(dialog.locator('.nbm-error'), /safety filter blocked this prompt.*refunded/);
    await page.keyboard.press('Escape');
    clean(page);
    await page.close();
});

test('history of text: a list with Load more; an answer opens in full and downloads as text', async () => {
    const page = await open('openai');
    const rows = page.locator('.nbm-list > li');
    await rows.first().waitFor();
    await page.getByLabel('Your message').fill('Say hello');
    await page.getByLabel('Your message').press('Enter');
    await rows.filter({ hasText: 'Say hello' }).waitFor();
    await rows.filter({ hasText: 'Say hello' }).locator('.nbm-row-open').click();
    const dialog = page.getByRole('dialog', { name: 'Answer' });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /You asked\s+Say hello/);
    const link = dialog.getByRole('link', { name: 'Download text' });
    assert.match(await link.getAttribute('href'), /^blob:/);
    assert.match(await link.getAttribute('download'), /^openai-.+\.txt$/);
    // an entry finished here can carry the conversation on
    await dialog.getByRole('button', { name: 'Continue this conversation' }).click();
    assert.equal(await page.locator('.nbm-msg-assistant').count(), 1, 'the answer from history is shown');
    await page.getByLabel('Your message').fill('Once more');
    await page.getByLabel('Your message').press('Enter');
    await page.locator('.nbm-msg-assistant').nth(1).and(page.locator('[aria-busy="false"]')).waitFor();
    assert.ok(lastRequest('openai').json.conversationId);
    await page.close();

    const qwen = await open('qwen');
    const list = qwen.locator('.nbm-list > li');
    await list.first().waitFor();
    assert.equal(await list.count(), 20);
    await qwen.getByRole('button', { name: 'Load more' }).click();
    const total = [...mock.state.gens.values()].filter((g) => g._module === 'qwen').length;
    await qwen.waitForFunction((n) => document.querySelectorAll('.nbm-list > li').length === n, total);
    assert.ok(await qwen.getByRole('button', { name: 'Load more' }).isHidden());
    clean(qwen);
    await qwen.close();
});

test('errors in words: credits, limits, fields, uploads, the provider, the network', async () => {
    const page = await open('nano-banana');
    const timing = { ...mock.state.timing };
    mock.state.timing = { ...timing, queuedMs: 100, runMs: 200 };
    const form = page.locator('form.nbm-form');
    const err = form.locator('.nbm-error');
    const prompt = form.getByLabel('Prompt');
    const go = () => page.locator('.nbm-generate').click();

    // nothing to send
    let n = requestCount();
    await go();
    await saysInWords(err, /Write a prompt first/);
    assert.equal(await prompt.getAttribute('aria-invalid'), 'true');
    assert.ok(await prompt.evaluate((el) => el === document.activeElement), 'the prompt gets the focus');
    assert.equal(requestCount(), n, 'nothing sent');

    // a seed out of range, caught before sending
    await prompt.fill('A banana boat');
    await form.getByLabel('Seed (optional)').fill('99999999999');
    await go();
    await saysInWords(err, /seed must be a whole number/);
    assert.equal(requestCount(), n, 'nothing sent');
    await form.getByLabel('Seed (optional)').fill('');

    // not enough credits: the hint before, the refusal after, and the way to buy
    const saved = mock.state.balance;
    mock.state.balance = 2;
    await page.reload();
    await page.locator('.nbm-generate:enabled').waitFor();
    await page.locator('.nbm-low', { hasText: 'does not cover this' }).waitFor();
    await form.getByLabel('Prompt').fill('A banana boat');
    await go();
    await saysInWords(err, /You do not have enough credits for this\. Buy credits/);
    assert.equal(await err.getByRole('link', { name: 'Buy credits' }).getAttribute('href'), '/billing');
    await shot(page, 'error-credits');
    mock.state.balance = saved;

    const refusal = async (status, body, re) => {
        mock.refuseNext('nano-banana', status, body);
        await go();
        return saysInWords(err, re);
    };
    await refusal(429, { error: 'too_many_in_flight', message: 'x' }, /as many generations running here as allowed/);
    await refusal(403, { error: 'csrf', message: 'x' }, /did not come from this page/);
    await refusal(413, { error: 'payload_too_large', message: 'x' }, /too large: images can be up to 10 MB/);
    await refusal(413, { error: 'payload_too_large', message: 'the image may have at most 25 megapixels' },
        /too many pixels: it may have at most 25 megapixels/);
    // an answer that leaves the admission unknown is sent once more,
    // under the same Idempotency-Key; a second such answer is shown
    n = requestCount();
    mock.refuseNext('nano-banana', 502, { error: 'bad_gateway', message: 'x' });
    await refusal(502, { error: 'bad_gateway', message: 'x' }, /not answering right now/);
    const tries = mock.state.requests.slice(n).filter((r) => /\/api\/generate$/.test(r.path));
    assert.equal(tries.length, 2, 'sent twice');
    assert.match(tries[0].idempotencyKey || '', /^[0-9a-f]{32}$/);
    assert.equal(tries[1].idempotencyKey, tries[0].idempotencyKey, 'under one key');
    await refusal(400, { error: 'invalid_field', field: 'aspectRatio', message: 'x' }, /This aspect ratio is not accepted/);
    assert.equal(await form.getByLabel('Aspect ratio').getAttribute('aria-invalid'), 'true');
    assert.ok(await form.getByLabel('Aspect ratio').evaluate((el) => el === document.activeElement), 'the field named gets the focus');

    // the network
    await page.route('**/api/generate', (route) => route.abort('failed'));
    await go();
    await saysInWords(err, /server could not be reached/);
    await page.unroute('**/api/generate');

    // one 503, then the job: the second try is what the page shows, and
    // the next press has a key of its own
    n = requestCount();
    mock.refuseNext('nano-banana', 503, { error: 'database_unavailable', message: 'x' });
    const had = mock.state.gens.size;
    await go();
    await page.waitForFunction((id) => document.querySelector('.nbm-result')?.dataset.id === id,
        await (async () => {
            while (mock.state.gens.size === had) await sleep(50);
            return [...mock.state.gens.keys()].at(-1);
        })());
    const sent = mock.state.requests.slice(n).filter((r) => /\/api\/generate$/.test(r.path));
    assert.equal(sent.length, 2, 'sent twice');
    assert.equal(sent[1].idempotencyKey, sent[0].idempotencyKey, 'under one key');
    assert.equal(await err.isVisible(), false, 'no error shown');
    // a press within a second of an admitted job is a double press
    await sleep(1100);
    n = requestCount();
    await go();
    while (requestCount() === n) await sleep(50);
    const next = mock.state.requests.slice(n).filter((r) => /\/api\/generate$/.test(r.path));
    assert.equal(next.length, 1);
    assert.notEqual(next[0].idempotencyKey, sent[0].idempotencyKey, 'a new press, a new key');

    // uploads: not an image, too large (both before sending)
    n = requestCount();
    await page.locator('input[type="file"]').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('just text, no picture') });
    await saysInWords(err, /not a PNG, JPEG or WebP image/);
    assert.equal(await page.locator('.nbm-drop-preview img').count(), 0);
    const big = Buffer.alloc(10 * 1024 * 1024 + 1);
    png(4, 4).copy(big);
    // 10 MiB through the DevTools protocol: slow on a loaded machine
    await page.locator('input[type="file"]').setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: big }, { timeout: 90000 });
    await saysInWords(err, /too large: images can be up to 10 MB/);
    assert.equal(requestCount(), n, 'nothing sent');
    await shot(page, 'error-upload');
    // Generate after a refused file: an edit was meant, so the first press
    // says so and sends nothing (until 2026-12-07 it made, and charged, a
    // new image from the prompt alone); the next press goes on (below)
    await prompt.fill('Make it blue');
    await go();
    await saysInWords(err, /image you chose was not accepted.*press Generate again to make a new image from the prompt alone/);
    assert.equal(await page.locator('input[type="file"]').getAttribute('aria-invalid'), 'true');
    assert.equal(requestCount(), n, 'nothing sent at the first press');

    // the generation fails at the provider: in words, refunded
    const result = page.locator('.nbm-result');
    for (const [marker, re] of [
        ['#blocked', /safety filter blocked this prompt or what it made/],
        ['#quota', /over its quota or too busy.*if it keeps failing, please tell the site’s operators/],
        ['#down', /had a problem and could not finish/],
        ['#auth', /refused this module’s key/],
    ]) {
        await prompt.fill(`A banana ${marker}`);
        await go();
        await result.locator('.nbm-badge', { hasText: 'Failed' }).waitFor();
        const text = await saysInWords(result.locator('.nbm-result-error'), re);
        assert.match(text, /Your credits were refunded\./);
    }
    await shot(page, 'error-blocked');
    mock.state.timing = timing;
    clean(page, { bad: [/POST \/nano-banana\/api\/generate (402|429|403|413|502|503|400)/] });
    await page.close();

    // when /api/models does not answer: words and a way to try again
    const p2 = await desktop.newPage();
    await p2.route('**/seedream/api/models', (route) => route.fulfill({ status: 502, contentType: 'application/json', body: '{"error":"bad_gateway"}' }));
    await p2.goto(`${mock.url}/seedream/`);
    await saysInWords(p2.locator('[data-nb-tool] .nbm-error'), /not answering right now/);
    await p2.unroute('**/seedream/api/models');
    await p2.getByRole('button', { name: 'Try again' }).click();
    await p2.locator('.nbm-generate:enabled').waitFor();
    await p2.close();
});

test('errors in words for text: busy streams, a cut stream, a lost connection, the provider', async () => {
    const page = await open('qwen');
    const box = page.getByLabel('Your message');
    const err = page.locator('.nbm-composer .nbm-error');

    mock.refuseNext('qwen', 429, { error: 'too_many_streams', message: 'x' });
    await box.fill('Hello?');
    await box.press('Enter');
    await saysInWords(err, /Too many answers are being written right now/);
    assert.equal(await box.inputValue(), 'Hello?', 'the message goes back in the box');
    assert.equal(await page.locator('.nbm-msg').count(), 0, 'no half conversation');

    mock.refuseNext('qwen', 402, { error: 'insufficient_credits', message: 'x' });
    await box.press('Enter');
    await saysInWords(err, /enough credits.*Buy credits/);

    for (const [marker, re] of [
        ['#cut', /cut the answer off before it was finished\. Your credits were refunded\./],
        ['#drop', /connection was lost before the answer was finished/],
        ['#quota', /over its quota/],
    ]) {
        await box.fill(`Tell me ${marker}`);
        await box.press('Enter');
        const answer = page.locator('.nbm-msg-assistant').last();
        await answer.and(page.locator('[aria-busy="false"]')).waitFor();
        await saysInWords(answer.locator('.nbm-error'), re);
        // #quota fails before a word: the message is back in the box to
        // send again (until 2026-12-07 the box was left empty)
        assert.equal(await box.inputValue(), marker === '#quota' ? `Tell me ${marker}` : '', `the box after ${marker}`);
        // and its failed row in history at once, as an image's (it showed
        // only after a reload until 2026-12-07)
        await page.locator('.nbm-history li', { hasText: `Tell me ${marker}` }).filter({ hasText: 'Failed' }).waitFor({ timeout: 5000 });
    }
    await shot(page, 'error-text');
    clean(page, { bad: [/POST \/qwen\/api\/generate (429|402)/] });
    await page.close();
});

test('an answer that fails before any text leaves no "…" behind; an image form beside a long prompt keeps its rows at the top', async () => {
    // until 2026-12-07 the empty answer's "…" (its placeholder while it
    // is written) stayed above the error for good, and a prompt of a few
    // thousand characters, shown whole beside the form, stretched the
    // form's rows: a Generate button hundreds of px tall
    const page = await open('qwen');
    const box = page.getByLabel('Your message');
    await box.fill('Tell me #blocked');
    await box.press('Enter');
    const answer = page.locator('.nbm-msg-assistant').last();
    await answer.and(page.locator('[aria-busy="false"]')).waitFor();
    await saysInWords(answer.locator('.nbm-error'), /safety filter blocked this prompt/);
    const empty = await answer.locator('.nbm-msg-text').evaluate((el) => ({
        before: getComputedStyle(el, '::before').content, height: el.getBoundingClientRect().height,
    }));
    assert.equal(empty.before, 'none', 'no "…" placeholder once it ended');
    assert.equal(empty.height, 0, 'the empty text takes no line');
    clean(page);
    await page.close();

    // the image's 4 credits are given back: later tests spend the rest
    const balance = mock.state.balance;
    const img = await open('nano-banana');
    await img.getByLabel('Prompt').fill('A banana on a beach, '.repeat(180));
    await img.locator('.nbm-generate:enabled').click();
    await img.locator('.nbm-result figure img').waitFor();
    const button = await img.locator('.nbm-generate').boundingBox();
    assert.ok(button.height < 80, `Generate is ${button.height} px tall`);
    const tool = await img.locator('.nbm-tool').boundingBox();
    assert.ok(tool.height > 1000, `the result beside the form is tall (${tool.height} px)`);
    const gaps = await img.locator('form.nbm-form').evaluate((f) => {
        const rows = [...f.children].filter((c) => c.getBoundingClientRect().height > 0).map((c) => c.getBoundingClientRect());
        return rows.slice(1).map((r, i) => r.top - rows[i].bottom);
    });
    assert.ok(Math.max(...gaps) < 40, `the form's rows stay together: gaps ${gaps.join(', ')} px`);
    await shot(img, 'long-prompt');
    clean(img);
    await img.close();
    mock.state.balance = balance;
});

test('a connection lost mid-answer (its module killed): the answer says so, follows the row, and says the refund when it comes', async () => {
    // until 2026-12-07 the page said "Check your connection" for good and
    // the header kept the debited balance: the refund that came once the
    // row's lease ran out was never shown
    const page = await open('qwen');
    const before = mock.state.balance;
    const box = page.getByLabel('Your message');
    await box.fill('Tell me a story #drop');
    await box.press('Enter');
    const answer = page.locator('.nbm-msg-assistant').last();
    await answer.and(page.locator('[aria-busy="false"]')).waitFor();
    await saysInWords(answer.locator('.nbm-error'), /connection was lost before the answer was finished/);
    await saysInWords(answer.locator('.nbm-msg-meta'), /server stopped while the provider was working on this.*Your credits were refunded\./);
    await page.locator('header .nbm-balance', { hasText: `${before} credits` }).waitFor();
    await page.locator('.nbm-history li', { hasText: 'Tell me a story #drop' }).waitFor();
    await shot(page, 'lost-refunded');
    clean(page);
    await page.close();
});

test('390 px wide and dark: nothing spills sideways; screenshots', async () => {
    for (const scheme of ['light', 'dark']) {
        const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: scheme, isMobile: true, hasTouch: true });
        ctx.setDefaultTimeout(TIMEOUT);
        for (const m of ['nano-banana', 'qwen', 'wan-2.5']) {
            const page = await open(m, ctx);
            await page.locator('.nbm-history li').first().waitFor();
            if (m === 'qwen') {
                // a phone has no Shift+Enter: Enter starts a new line,
                // Send sends (until 2026-12-06 Enter sent)
                const box = page.getByLabel('Your message');
                const sent = requestCount();
                await box.fill('Hi from a phone');
                await box.press('Enter');
                await box.type('second line');
                assert.equal(await box.inputValue(), 'Hi from a phone\nsecond line');
                assert.equal(requestCount(), sent, 'Enter sent nothing');
                assert.equal(await box.getAttribute('enterkeyhint'), 'enter');
                assert.match(await page.locator('.nbm-composer-foot .nbm-hint').innerText(), /Enter starts a new line/);
                await page.getByRole('button', { name: /^Send/ }).click();
                await page.locator('.nbm-msg-assistant[aria-busy="false"]').waitFor();
            }
            // lazy thumbnails load as they come into view
            await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
            await page.waitForFunction(() => [...document.querySelectorAll('.nbm-grid img')].every((i) => i.complete && i.naturalWidth > 0));
            await page.evaluate(() => window.scrollTo(0, 0));
            const wide = await page.evaluate(() => document.documentElement.scrollWidth);
            assert.ok(wide <= 390, `${m} ${scheme}: page is ${wide}px wide`);
            await shot(page, `mobile-${m}${scheme === 'dark' ? '-dark' : ''}`);
            clean(page);
            await page.close();
        }
        await ctx.close();
    }
    const dark = await browser.newContext({ viewport: { width: 1100, height: 800 }, colorScheme: 'dark' });
    const page = await open('nano-banana', dark);
    // native parts (checkboxes, select menus, scrollbars) follow the
    // scheme: until 2026-12-06 they stayed light on the dark page
    assert.equal(await page.evaluate(() => getComputedStyle(document.documentElement).colorScheme), 'light dark');
    await page.locator('.nbm-grid img').first().waitFor();
    await shot(page, 'dark-nano-banana');
    clean(page);
    await dark.close();
});

// Deletes the entry li of history through its Delete button and the
// confirmation, and waits until it is gone.
async function deleteEntry(page, li) {
    const id = await li.getAttribute('data-id');
    await li.getByRole('button', { name: /^Delete/ }).click();
    await page.getByRole('dialog', { name: 'Delete' }).getByRole('button', { name: 'Delete' }).click();
    await page.locator(`.nbm-history li[data-id="${id}"]`).waitFor({ state: 'detached' });
    return id;
}

test('history: deleting every entry shown brings the next page, not "Nothing here yet"', async () => {
    mock.seed('wan-2.5', 14);
    const page = await open('wan-2.5');
    const cards = page.locator('.nbm-grid > li');
    await cards.nth(11).waitFor();
    assert.equal(await cards.count(), 12);
    const more = page.getByRole('button', { name: 'Load more' });
    assert.ok(await more.isVisible(), 'more on the server');
    const shown = await cards.evaluateAll((lis) => lis.map((li) => li.dataset.id));
    for (const id of shown) await deleteEntry(page, page.locator(`.nbm-grid > li[data-id="${id}"]`));
    // the next entries come by themselves, found after the deleted rows
    await cards.first().waitFor();
    assert.ok(await page.locator('.nbm-empty').isHidden(), 'never "Nothing here yet" while the server has more');
    const next = await cards.evaluateAll((lis) => lis.map((li) => li.dataset.id));
    const left = [...mock.state.gens.values()].filter((g) => g._module === 'wan-2.5').length;
    assert.equal(next.length, Math.min(12, left));
    assert.ok(next.every((id) => !shown.includes(id)));
    await shot(page, 'history-next-page');
    clean(page);
    await page.close();
});

test('history: deleting a job still queued gives its credits back, and the header shows it', async () => {
    const timing = { ...mock.state.timing };
    mock.state.timing.queuedMs = 60000;
    try {
        const page = await open('seedream');
        const balance = page.locator('header .nbm-balance');
        await page.getByLabel('Prompt').fill('Queued, then deleted from history');
        await page.locator('.nbm-generate').click();
        await page.locator('.nbm-result .nbm-badge', { hasText: 'Queued' }).waitFor();
        const charged = mock.state.balance;
        await balance.filter({ hasText: `${charged} credits` }).waitFor();
        // after a reload the queued job is in history with its Delete
        await page.reload();
        const card = page.locator('.nbm-grid > li', { hasText: 'Queued, then deleted from history' });
        await card.waitFor();
        await deleteEntry(page, card);
        assert.equal(mock.state.balance, charged + 3, 'the server refunded it');
        await balance.filter({ hasText: `${charged + 3} credits` }).waitFor({ timeout: 3000 });
        // nor is the deleted job asked for again (a 404), however long one waits
        const polls = [];
        page.on('request', (r) => { if (r.url().includes('/seedream/api/generations/')) polls.push(r.url()); });
        await sleep(3500);
        assert.deepEqual(polls, []);
        clean(page);
        await page.close();
    } finally {
        Object.assign(mock.state.timing, timing);
    }
});

test('a job followed when the session ends: the words say so with a link to sign in, then the job goes on', async () => {
    const timing = { ...mock.state.timing };
    mock.state.timing.queuedMs = 4000;
    try {
        const page = await open('seedream');
        await page.getByLabel('Prompt').fill('Followed across a sign-in');
        await page.locator('.nbm-generate').click();
        const result = page.locator('.nbm-result');
        await result.locator('.nbm-badge', { hasText: 'Queued' }).waitFor();
        // the gateway's answer for an ended session (ngx_nano_auth_module)
        const expired = (route) => route.fulfill({ status: 401, contentType: 'application/json', body: '{"error":"unauthorized"}' });
        await page.route('**/seedream/api/generations/**', expired);
        await saysInWords(result.locator('p', { hasText: /session/ }), /session has ended/);
        // the header shows the account no more, only Sign in back here
        // (until 2026-12-07 it kept the balance and Sign out)
        const account = page.locator('.nb-header .nb-user');
        const again = account.getByRole('link', { name: 'Sign in' });
        await again.waitFor();
        assert.equal(await again.getAttribute('href'), '/api/auth/signin?callbackUrl=%2Fseedream%2F');
        assert.equal(await account.getByRole('link', { name: 'Sign out' }).isVisible(), false);
        assert.equal(await page.locator('[data-nb-balance]').isVisible(), false);
        // said, not only shown: the panel is aria-busy while the job runs,
        // so the words need a live region of their own
        await page.evaluate(installLiveRootOf);
        assert.match(await result.locator('p', { hasText: /session/ }).evaluate((p) => window.liveRootOf(p.firstChild)), /busy=false$/);
        const link = result.getByRole('link', { name: 'Sign in' });
        // the page itself, which the gateway sends to sign-in and back
        // (on a subdomain too: a relative callbackUrl came back to the
        // platform's path, found by the phase2 probe)
        assert.equal(await link.getAttribute('href'), '/seedream/');
        assert.ok(!/Connection lost/.test(await result.innerText()), 'not a lost connection');
        await shot(page, 'session-ended-job');
        // signed in again (another tab): the page goes on following it
        await page.unroute('**/seedream/api/generations/**', expired);
        await result.locator('figure img').waitFor();
        assert.ok(!/session has ended/.test(await result.innerText()));
        await account.getByRole('link', { name: 'Sign out' }).waitFor();
        assert.equal(await again.isVisible(), false);
        assert.equal(await page.locator('[data-nb-balance]').isVisible(), true);
        clean(page, { bad: [/ 401$/] });
        await page.close();
    } finally {
        Object.assign(mock.state.timing, timing);
    }
});

test('a reload while a job runs: the result panel follows it again, its time counted from its start', async () => {
    // The job stays queued, then running, until the test moves it on: by
    // the clock (3 s each) a loaded machine's reload could outlast both,
    // and the counter was read against a 1.5 s window.
    const timing = { ...mock.state.timing };
    Object.assign(mock.state.timing, { queuedMs: 600000, runMs: 600000 });
    try {
        const page = await open('wan-2.5');
        await page.getByLabel('Prompt').fill('A kite over the dunes, through a reload');
        await page.locator('.nbm-generate').click();
        const result = page.locator('.nbm-result');
        await result.locator('.nbm-badge', { hasText: 'Queued' }).waitFor();
        const job = [...mock.state.gens.values()].find((g) => g.prompt === 'A kite over the dunes, through a reload');
        const age = () => Date.now() - Date.parse(job.createdAt);
        await sleep(4000);
        await page.reload();
        await page.locator('.nbm-generate:enabled').waitFor();
        // the newest job not ended, its counter from the job's start: a
        // counter from the reload would start 4 s or more after it (the
        // page may take the server's clock as up to 2 s off)
        await result.locator('.nbm-badge', { hasText: 'Queued' }).waitFor();
        const counter = result.locator('.nbm-clock');
        const since = Number(await counter.getAttribute('data-since'));
        assert.ok(Math.abs(since - Date.parse(job.createdAt)) < 2500,
            `counted from ${since - Date.parse(job.createdAt)} ms after the job began`);
        await counter.filter({ hasText: /^(?!0:00$)\d+:\d\d$/ }).waitFor();
        assert.match(await result.innerText(), /Waiting for a free slot/);
        await shot(page, 'video-resumed');
        job._plan.queuedMs = age();
        await result.locator('.nbm-badge', { hasText: 'Generating' }).waitFor();
        assert.match(await result.innerText(), /Making your video/);
        job._plan.runMs = age() - job._plan.queuedMs;
        await result.locator('figure video').waitFor();
        assert.match(await result.innerText(), /A kite over the dunes, through a reload/);
        clean(page);
        await page.close();
    } finally {
        Object.assign(mock.state.timing, timing);
    }
});

test('history that cannot be read at first: no "Nothing here yet", and a Try again that loads it', async () => {
    for (const m of ['seedream', 'qwen']) {
        const page = await open(m);
        await page.locator('.nbm-history li').first().waitFor();
        // the same page again, its first history answer a 503
        let refused = 0;
        await page.route('**/api/history*', (route) => (refused++ ? route.continue()
            : route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"unavailable"}' })));
        page.bad = [];
        await page.reload();
        await page.locator('.nbm-generate:enabled').waitFor();
        const history = page.locator('.nbm-history');
        await saysInWords(history.locator('.nbm-error'), /not answering/);
        assert.ok(await history.locator('.nbm-empty').isHidden(), `${m}: not read is not empty`);
        await history.getByRole('button', { name: 'Try again' }).click();
        await history.locator('li').first().waitFor();
        assert.equal(await history.locator('.nbm-error').innerText(), '');
        assert.ok(await history.getByRole('button', { name: 'Try again' }).isHidden());
        assert.equal(refused, 2);
        clean(page, { bad: [/history 503$/] });
        await page.close();
    }
});

test('a queued job canceled from its details: its card keeps prompt and date, and the result panel says so at once', async () => {
    const timing = { ...mock.state.timing };
    mock.state.timing.queuedMs = 60000;
    try {
        const page = await open('seedream');
        await page.getByLabel('Prompt').fill('Canceled from the details');
        await page.locator('.nbm-generate').click();
        await page.locator('.nbm-result .nbm-badge', { hasText: 'Queued' }).waitFor();
        await page.reload();
        const card = page.locator('.nbm-grid > li', { hasText: 'Canceled from the details' });
        await card.waitFor();
        // the polls from now on get no answer (a slow network): what the
        // page shows comes from the cancel alone
        await page.route('**/seedream/api/generations/*', (route) => (route.request().method() === 'GET' ? undefined : route.continue()));
        const id = await card.getAttribute('data-id');
        await card.locator('.nbm-thumb').click();
        const dialog = page.getByRole('dialog', { name: 'Your image' });
        await dialog.getByRole('button', { name: 'Cancel' }).click();
        await dialog.waitFor({ state: 'hidden' });
        assert.equal(mock.state.gens.get(id).status, 'canceled');
        const entry = page.locator(`.nbm-grid > li[data-id="${id}"]`);
        await entry.locator('.nbm-badge', { hasText: 'Canceled' }).waitFor({ timeout: 1000 });
        assert.equal(await entry.locator('.nbm-card-prompt').innerText(), 'Canceled from the details');
        assert.notEqual(await entry.locator('.nbm-card-meta').innerText(), '');
        await page.locator('.nbm-result', { hasText: /Canceled\. 3 credits went back/ }).waitFor({ timeout: 1000 });
        await page.unrouteAll({ behavior: 'ignoreErrors' });
        clean(page);
        await page.close();
    } finally {
        Object.assign(mock.state.timing, timing);
    }
});

test('a job followed again after a reload that fails: its prompt is back in the form, as the words say', async () => {
    const timing = { ...mock.state.timing };
    Object.assign(mock.state.timing, { queuedMs: 2000, runMs: 1000 });
    try {
        const page = await open('seedream');
        const prompt = 'A lighthouse in a storm #down';
        await page.getByLabel('Prompt').fill(prompt);
        await page.locator('.nbm-generate').click();
        const result = page.locator('.nbm-result');
        await result.locator('.nbm-badge', { hasText: 'Queued' }).waitFor();
        await page.reload();
        await result.locator('.nbm-badge', { hasText: 'Failed' }).waitFor({ timeout: 8000 });
        assert.match(await result.innerText(), /Your prompt is still in the form/);
        assert.equal(await page.getByLabel('Prompt').inputValue(), prompt);
        clean(page);
        await page.close();
    } finally {
        Object.assign(mock.state.timing, timing);
    }
});

test('a pasted prompt over the limit stays whole in the box and is refused in words, never cut short and sent', async () => {
    const doc = `Please summarise this document. ${'lorem ipsum dolor sit amet '.repeat(350)}THE END`;
    for (const [m, label, send] of [['qwen', 'Your message', 'Enter'], ['seedream', 'Prompt', 'Control+Enter']]) {
        const page = await open(m);
        const box = page.getByRole('textbox', { name: label });
        await box.focus();
        await page.keyboard.insertText(doc);          // as a paste does
        assert.equal((await box.inputValue()).length, doc.length, `${m}: the whole text is in the box`);
        const before = requestCount();
        await page.keyboard.press(send);
        await saysInWords(page.locator('form .nbm-error'), new RegExp(`at most 8000 bytes .* it has ${doc.length}`));
        assert.equal(requestCount(), before, `${m}: nothing sent`);
        assert.ok((await box.inputValue()) === doc, 'it stays in the box');
        clean(page);
        await page.close();
    }
});

test('keyboard: focus on the card of a job that changes state stays on that card\'s same button', async () => {
    const timing = { ...mock.state.timing };
    Object.assign(mock.state.timing, { queuedMs: 1500, runMs: 1500 });
    try {
        const page = await open('seedream');
        await page.getByLabel('Prompt').fill('A card that changes under the keyboard');
        await page.locator('.nbm-generate').click();
        await page.locator('.nbm-result .nbm-badge', { hasText: 'Queued' }).waitFor();
        await page.reload();        // the queued job is in history now
        const card = page.locator('.nbm-grid > li', { hasText: 'A card that changes under the keyboard' });
        await card.locator('.nbm-badge', { hasText: 'Queued' }).waitFor();
        const id = await card.getAttribute('data-id');
        await card.getByRole('button', { name: /^Delete/ }).focus();
        await card.locator('img').waitFor({ timeout: 8000 });      // queued → running → succeeded
        assert.deepEqual(await page.evaluate(() => [document.activeElement.closest('li')?.dataset.id, document.activeElement.textContent]), [id, 'Delete']);
        clean(page);
        await page.close();
    } finally {
        Object.assign(mock.state.timing, timing);
    }
});

test('keyboard: after deleting an entry from its card, focus is on the next entry\'s Delete, then on the heading', async () => {
    mock.seed('openai', 1);
    const page = await open('openai');
    const rows = page.locator('.nbm-list > li');
    await rows.first().waitFor();
    const ids = await rows.evaluateAll((lis) => lis.map((li) => li.dataset.id));
    const focused = () => page.evaluate(() => [document.activeElement.closest('li')?.dataset.id ?? document.activeElement.tagName, document.activeElement.textContent]);
    for (const [i, id] of ids.entries()) {
        await page.locator(`.nbm-list > li[data-id="${id}"]`).getByRole('button', { name: /^Delete/ }).focus();
        await page.keyboard.press('Enter');
        const confirm = page.getByRole('dialog', { name: 'Delete' });
        await confirm.waitFor();
        await page.keyboard.press('Tab');          // from Cancel to Delete
        await page.keyboard.press('Enter');
        await page.locator(`.nbm-list > li[data-id="${id}"]`).waitFor({ state: 'detached' });
        if (i + 1 < ids.length) assert.deepEqual(await focused(), [ids[i + 1], 'Delete']);
        else assert.deepEqual(await focused(), ['H2', 'History']);
    }
    clean(page);
    await page.close();
});

test('contrast in both schemes: every text 4.5:1 (large 3:1), every field edge 3:1, the offline and running badges too', async () => {
    const saved = { ...mock.state.timing };
    mock.state.timing.queuedMs = 100;
    mock.state.timing.runMs = 60000;
    try {
        for (const scheme of ['light', 'dark']) {
            const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 }, colorScheme: scheme });
            ctx.setDefaultTimeout(TIMEOUT);
            for (const m of ['seedream', 'qwen', 'wan-2.5']) {
                const page = await open(m, ctx);
                await page.waitForFunction(() => document.querySelector('.nbm-history li') || !document.querySelector('.nbm-empty').hidden);
                // a form of the platform's pages (ui.css's .nb-form), drawn here
                await page.evaluate(() => {
                    const f = document.createElement('form');
                    f.className = 'nb-form';
                    f.innerHTML = '<label>Email <input name="email" type="email"></label>';
                    document.querySelector('main').append(f);
                });
                if (m === 'seedream') {
                    assert.equal(await page.locator('.nbm-badge-offline').count() > 0, true, 'seedream shows its offline badge');
                    await page.getByLabel('Prompt').fill('a running job');
                    await page.getByRole('button', { name: /^Generate/ }).click();
                    await page.locator('.nbm-result .nbm-badge-running').waitFor();
                }
                assert.deepEqual(await page.evaluate(contrastProblems), [], `${m} ${scheme}`);
                clean(page);
                await page.close();
            }
            await ctx.close();
        }
    } finally {
        mock.state.timing = saved;
    }
});

test('keyboard: Generate, Load more and Send pressed from the keyboard keep the focus, never drop it to the body', async () => {
    // a button disabled while it works loses the focus to the body; a
    // keyboard or screen-reader user was then back at the page's start
    const where = (page) => page.evaluate(() => {
        const e = document.activeElement;
        return !e || e === document.body ? 'body' : e.closest('li')?.dataset.id ? `entry ${[...e.closest('ul').children].indexOf(e.closest('li'))}` : e.className;
    });
    mock.seed('nano-banana', 14);
    const page = await open('nano-banana');
    await page.route('**/nano-banana/api/generate', async (route) => {
        await sleep(400);
        await route.continue();
    });
    await page.getByLabel('Prompt').fill('a lighthouse, by keyboard');
    await page.locator('.nbm-generate').focus();
    await page.keyboard.press('Enter');
    await page.locator('.nbm-generate:disabled').waitFor();
    await page.locator('.nbm-generate:enabled').waitFor();
    assert.equal(await where(page), 'nb-button nbm-generate', 'Generate has the focus again once the job is in');

    const more = page.locator('.nbm-more');
    await more.waitFor();
    for (let n = 0; n < 10 && await more.isVisible(); n++) {
        const before = await page.locator('.nbm-history li').count();
        const last = await page.locator('.nbm-history li').last().getAttribute('data-id');
        await more.focus();
        await page.keyboard.press('Enter');
        await page.waitForFunction((b) => document.querySelectorAll('.nbm-history li').length > b
            && !document.querySelector('.nbm-more').disabled, before);
        /* at the end, the entry after the last one shown before: read
         * in one go, as the job generated above goes first in the list
         * whenever it ends, so an index read apart from the focus may
         * be one off (such a race failed this test once in three runs) */
        if (await more.isVisible()) assert.equal(await where(page), 'nbm-button-quiet nbm-more', 'Load more keeps the focus');
        else {
            assert.equal(await page.evaluate(() => document.activeElement.closest('li')?.previousElementSibling?.dataset.id), last,
                'at the end, the focus is on the first entry loaded');
        }
    }
    assert.ok(await more.isHidden(), 'history was read to its end');
    clean(page);
    await page.close();

    const chat = await open('qwen');
    await chat.getByLabel('Your message').fill('tell me a long story #slow');
    await chat.locator('.nbm-generate').focus();
    await chat.keyboard.press('Enter');
    await chat.locator('.nbm-msg-assistant[aria-busy="true"]').waitFor();
    assert.equal(await where(chat), 'nbm-input nbm-prompt', 'while the answer comes, the focus is in the message box');
    await chat.keyboard.press('Tab');
    assert.equal(await chat.evaluate(() => document.activeElement.textContent), 'Stop', 'Stop is the next stop');
    await chat.keyboard.press('Enter');
    await chat.locator('.nbm-msg-assistant[aria-busy="false"]').waitFor();
    assert.notEqual(await where(chat), 'body', 'after Stop the focus is somewhere');
    clean(chat);
    await chat.close();
});

// A job that ends while Load more's page is on its way goes first in the
// list.  The page then focused the entry at the count from before the
// load: the last one of the page before, not the first one loaded, so a
// keyboard user's place jumped back (found by the endsui probe; it made
// the test above fail about once in three runs).
test('keyboard: at the end of history, Load more focuses the first entry loaded even when a job ended meanwhile', async () => {
    const timing = { ...mock.state.timing };
    Object.assign(mock.state.timing, { queuedMs: 1500, runMs: 1500 });
    try {
        mock.seed('seedream', 13);
        const page = await open('seedream');
        const more = page.locator('.nbm-more');
        await more.waitFor();
        const card = page.locator('.nbm-history li', { hasText: 'a job that ends during Load more' });
        // the last page is held until the job has ended and gone first
        await page.route('**/seedream/api/history?*', async (route) => {
            const res = await route.fetch();
            const json = await res.json();
            if (new URL(route.request().url()).searchParams.has('cursor') && !json.nextCursor) await card.waitFor();
            await route.fulfill({ response: res, json });
        });
        await page.getByLabel('Prompt').fill('a job that ends during Load more');
        await page.locator('.nbm-generate').click();
        await page.locator('.nbm-result .nbm-badge', { hasText: 'Queued' }).waitFor();
        assert.equal(await card.count(), 0, 'the job is not in history before it ends');
        let last;
        while (await more.isVisible()) {
            last = await page.locator('.nbm-history li').last().getAttribute('data-id');
            await more.focus();
            await page.keyboard.press('Enter');
            await page.waitForFunction(() => !document.querySelector('.nbm-more').disabled);
        }
        assert.equal(await card.count(), 1, 'the job ended during the last page');
        const focused = await page.evaluate(() => document.activeElement.closest('li')?.dataset.id);
        const ids = await page.locator('.nbm-history li').evaluateAll((lis) => lis.map((li) => li.dataset.id));
        assert.equal(focused, ids[ids.indexOf(last) + 1], 'the focus is on the first entry loaded');
        clean(page);
        await page.close();
    } finally {
        Object.assign(mock.state.timing, timing);
    }
});

test('keyboard: focus on the result panel\'s Cancel, when the job starts or is canceled, goes to the panel, never the body', async () => {
    const saved = { ...mock.state.timing };
    const where = (page) => page.evaluate(() => {
        const e = document.activeElement;
        return !e || e === document.body ? 'body' : e.className;
    });
    try {
        mock.state.timing.queuedMs = 1200;
        const page = await open('nano-banana');
        await page.getByLabel('Prompt').fill('a cat that starts');
        await page.getByRole('button', { name: /^Generate/ }).click();
        const result = page.getByRole('region', { name: 'Result' });
        await result.getByRole('button', { name: 'Cancel' }).focus();
        await result.locator('.nbm-badge-running').waitFor();
        assert.equal(await where(page), 'nbm-panel nbm-result', 'the job started: the panel has the focus');

        mock.state.timing.queuedMs = 60000;
        await result.locator('.nbm-badge-succeeded').waitFor();
        await page.getByLabel('Prompt').fill('a dog canceled');
        await page.getByRole('button', { name: /^Generate/ }).click();
        await result.getByRole('button', { name: 'Cancel' }).focus();
        await page.keyboard.press('Enter');
        await result.getByText(/^Canceled\. .* went back to your balance\.$/).waitFor();
        assert.equal(await where(page), 'nbm-panel nbm-result', 'canceled: the panel that says so has the focus');
        clean(page);
        await page.close();
    } finally {
        mock.state.timing = saved;
    }
});

// What Chromium's live region tracker (ui/accessibility) takes as the
// live root of node n: the nearest element whose live status (aria-live,
// else its role's) is not "off"; a change is dropped when that root is
// aria-busy.  Installed in the page as window.liveRootOf; says
// "<role> live=<status> busy=<true|false>", or "none".
function installLiveRootOf() {
    const LIVE = { log: 'polite', status: 'polite', alert: 'assertive', timer: 'off', marquee: 'off' };
    window.liveRootOf = (n) => {
        for (let e = n && (n.nodeType === 1 ? n : n.parentElement); e; e = e.parentElement) {
            const live = e.getAttribute('aria-live') || LIVE[e.getAttribute('role')];
            if (live && live !== 'off') return `${e.getAttribute('role') || e.tagName.toLowerCase()} live=${live} busy=${e.getAttribute('aria-busy') || 'false'}`;
        }
        return 'none';
    };
}

test('a streamed answer is not spoken token by token: its live region (the conversation log) is busy until the end, then says once that it is complete', async () => {
    // Chromium (ui/accessibility's live region tracker) finds a change's
    // live root as the nearest ancestor whose live status is not "off"
    // (aria-live=off and role=timer are no roots: the clock's ticks go to
    // the region around it) and drops the change only when that root is
    // aria-busy; aria-busy on the answer inside the log was not enough,
    // and each delta was announced.
    const page = await open('qwen');
    await page.getByLabel('Your message').fill('a long answer, slowly #slow');
    await page.getByRole('button', { name: /^Send/ }).click();
    await page.waitForFunction(() => document.querySelector('.nbm-msg-assistant .nbm-msg-text')?.textContent.length > 5);
    await page.evaluate(installLiveRootOf);
    const roots = await page.evaluate(() => {
        const answer = document.querySelector('.nbm-msg-assistant');
        return {
            text: window.liveRootOf(answer.querySelector('.nbm-msg-text').firstChild),
            clock: window.liveRootOf(answer.querySelector('.nbm-clock').firstChild),
        };
    });
    assert.match(roots.text, /^log live=polite busy=true$/, 'the answer\'s live root is busy while it is written');
    assert.match(roots.clock, /^log live=polite busy=true$/, 'the clock ticks silently');
    await page.locator('.nbm-msg-assistant[aria-busy="false"]').waitFor({ timeout: 30000 });
    assert.equal(await page.getByRole('log').getAttribute('aria-busy'), 'false', 'the log is not busy once the answer is complete');
    assert.equal(await page.locator('.nbm-chat > .nbm-visually-hidden[aria-live="polite"]').textContent(), 'The answer is complete.');
    clean(page);
    await page.close();
});

test('a chat\'s refusals and failures are said once: the hidden polite line does not repeat the alert or the log', async () => {
    const page = await open('qwen');
    const box = page.getByLabel('Your message');
    const err = page.locator('.nbm-composer .nbm-error');
    const line = page.locator('.nbm-chat > .nbm-visually-hidden[aria-live="polite"]');
    await page.evaluate(installLiveRootOf);

    mock.refuseNext('qwen', 402, { error: 'insufficient_credits', message: 'x' });
    await box.fill('Hello?');
    await box.press('Enter');
    await saysInWords(err, /enough credits/);
    assert.equal(await err.getAttribute('role'), 'alert');
    assert.ok(!(await line.textContent()).includes('enough credits'), `the alert says it; the line said "${await line.textContent()}"`);

    await box.fill('Tell me #cut');
    await box.press('Enter');
    const answer = page.locator('.nbm-msg-assistant').last();
    await answer.and(page.locator('[aria-busy="false"]')).waitFor();
    const failure = answer.locator('.nbm-error');
    await saysInWords(failure, /cut the answer off/);
    assert.equal(await failure.evaluate((p) => window.liveRootOf(p.firstChild)), 'log live=polite busy=false', 'the log says it');
    assert.ok(!(await line.textContent()).includes('cut the answer off'), `the line said "${await line.textContent()}"`);
    clean(page, { bad: [/POST \/qwen\/api\/generate 402/] });
    await page.close();
});
