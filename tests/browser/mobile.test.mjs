// The site on a phone and on small or zoomed screens: every page (sign-in,
// sign-up, the dashboard, each module, settings, billing, nginx's own
// error pages) at 360x640 and 390x844 (a touch phone that honours
// <meta name="viewport">), 768x1024 and 640 CSS px (1280x800 at 200 %
// zoom).  Each must let the page be zoomed and laid out at the device's
// width, scroll only downwards, keep its text at 12 px or more, give its
// controls a tap target of 24x24 CSS px (WCAG 2.2 2.5.8) and its fields
// 16 px text on a phone (iOS zooms into smaller ones).  A module page
// generates, shows the result and opens its history by touch alone.
// Screenshots: build/tests/screenshots/mobile-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { url, launch, newUser, signUp, signIn, shooter, settled } from './lib.mjs';
import { MODULES, stackctl, keepRunning } from '../integration/lib.mjs';

const TIMEOUT = 20000;
const shot = shooter('mobile');
const user = newUser('mobile');
// a name and an address with no space to break at
user.name = `Mobile${'W'.repeat(60)}${user.id}`;
user.email = `mobile.${'x'.repeat(40)}.${user.id}@example-of-a-long-domain.com`;

const VIEWPORTS = [
    { tag: '360', viewport: { width: 360, height: 640 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
    { tag: '390', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 },
    { tag: '768', viewport: { width: 768, height: 1024 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
    // 1280x800 at 200 % zoom lays the page out in 640x400 CSS px
    { tag: 'zoom', viewport: { width: 640, height: 400 }, deviceScaleFactor: 2 },
];

// The pages a person reaches, signed in; the error pages are nginx's.
const PAGES = [
    ['dashboard', '/'],
    ...MODULES.map((m) => [m, `/${m}/`]),
    ['settings', '/settings'],
    ['billing', '/billing'],
    ['404', '/no-such-page-here'],
];
const SIGNED_OUT = [['signin', '/api/auth/signin'], ['signup', '/signup']];

/* What a small screen shows wrong on the page open now: run in the page. */
function measure() {
    // the server-drawn chart's text as shown: its size in the SVG's units
    // times the scale the SVG is drawn at (its 11 px labels were drawn
    // smaller where the page was narrower than 790 px; found by an
    // earlier probe); undefined for any other text
    const chartPx = (e) => {
        if (!e.closest('svg.nb-chart')) return undefined;
        const m = e.getScreenCTM();
        return Math.round(parseFloat(getComputedStyle(e).fontSize) * Math.hypot(m.a, m.b) * 100) / 100;
    };
    const W = window.innerWidth;
    const out = { width: W, overflow: [], small: [], tiny: [], zoomy: [], edge: [], broken: [] };
    const visible = (e) => {
        const r = e.getBoundingClientRect();
        const s = getComputedStyle(e);
        return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
    };
    const name = (e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.trim().split(/\s+/).join('.')}` : ''} "${(e.textContent || e.value || e.getAttribute('aria-label') || '').trim().slice(0, 30)}"`;
    // clipped by an ancestor that scrolls or hides its overflow
    const clipped = (e) => {
        for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
            const s = getComputedStyle(p);
            if (s.overflowX !== 'visible' && s.overflowX !== 'clip' || s.overflow === 'hidden') return true;
        }
        return false;
    };
    if (document.scrollingElement.scrollWidth > W) {
        for (const e of document.body.querySelectorAll('*')) {
            if (!visible(e) || clipped(e)) continue;
            const r = e.getBoundingClientRect();
            if (r.right > W + 1) out.overflow.push(`${name(e)} right=${Math.round(r.right)}`);
        }
        if (!out.overflow.length) out.overflow.push(`scrollWidth ${document.scrollingElement.scrollWidth}`);
    }
    // tap targets: controls, and links that are not words in a sentence;
    // one under 24x24 passes if a 24 px circle on its centre meets no
    // other target (WCAG 2.2 2.5.8's spacing exception)
    const targets = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]')]
        .filter((e) => visible(e) && !e.closest('dialog:not([open])'))
        .map((e) => {
            // a field hidden behind its label: the label is the target
            const l = e.labels?.[0];
            const r = e.getBoundingClientRect();
            return { e, r: (r.width < 2 || r.height < 2) && l && visible(l) ? l.getBoundingClientRect() : r };
        });
    const centre = (r) => [r.left + r.width / 2, r.top + r.height / 2];
    const near = (r, [x, y]) => Math.hypot(Math.max(r.left - x, 0, x - r.right), Math.max(r.top - y, 0, y - r.bottom)) < 12;
    for (const { e, r } of targets) {
        if (r.width >= 24 && r.height >= 24) continue;
        if (e.tagName === 'A') {
            const p = e.parentElement;
            const inline = getComputedStyle(e).display === 'inline';
            const prose = [...p.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
            if (inline && prose) continue;          // the inline exception
        }
        const c = centre(r);
        const crowded = targets.some((o) => o.e !== e && !o.e.contains(e) && !e.contains(o.e)
            && (near(o.r, c) || ((o.r.width < 24 || o.r.height < 24) && Math.hypot(...centre(o.r).map((v, i) => v - c[i])) < 24)));
        if (crowded) out.small.push(`${name(e)} ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
    // a table's words stay whole: a cell squeezed below its longest word
    // read "Generatio / n"
    for (const cell of document.querySelectorAll('main td, main th')) {
        if (!visible(cell)) continue;
        const w = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let n = w.nextNode(); n; n = w.nextNode()) {
            for (const m of n.textContent.matchAll(/\S+/g)) {
                const r = document.createRange();
                r.setStart(n, m.index);
                r.setEnd(n, m.index + m[0].length);
                const lines = new Set([...r.getClientRects()].filter((q) => q.width > 0).map((q) => Math.round(q.top)));
                if (lines.size > 1) out.broken.push(`"${m[0]}" on ${lines.size} lines`);
            }
        }
    }
    // the main content keeps clear of the screen's edges
    for (const e of document.querySelectorAll('main h1, main p')) {
        if (!visible(e) || clipped(e)) continue;
        const r = e.getBoundingClientRect();
        if (r.left < 8 || r.right > W - 8) out.edge.push(`${name(e)} ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
    // text under 12 px
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const e = n.parentElement;
        if (!n.textContent.trim() || !e || !visible(e)) continue;
        const fs = chartPx(e) ?? parseFloat(getComputedStyle(e).fontSize);
        if (fs < 12) out.tiny.push(`${name(e)} ${fs}px`);
    }
    // fields a phone zooms into
    for (const e of document.querySelectorAll('input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=file]), select, textarea')) {
        if (!visible(e)) continue;
        const fs = parseFloat(getComputedStyle(e).fontSize);
        if (fs < 16) out.zoomy.push(`${name(e)} ${fs}px`);
    }
    const vp = document.querySelector('meta[name=viewport]')?.content || '';
    out.viewport = vp;
    return out;
}

const problems = { overflow: [], small: [], tiny: [], zoomy: [], viewport: [], edge: [], broken: [] };

async function check(page, vp, label) {
    const m = await page.evaluate(measure);
    const at = `${label} at ${vp.tag}`;
    for (const o of m.overflow) problems.overflow.push(`${at}: ${o}`);
    for (const o of m.small) problems.small.push(`${at}: ${o}`);
    for (const o of m.tiny) problems.tiny.push(`${at}: ${o}`);
    for (const o of m.edge) problems.edge.push(`${at}: ${o}`);
    for (const o of m.broken) problems.broken.push(`${at}: ${o}`);
    if (vp.isMobile && vp.viewport.width < 768) for (const o of m.zoomy) problems.zoomy.push(`${at}: ${o}`);
    if (!/width=device-width/.test(m.viewport) || /user-scalable\s*=\s*(no|0)|maximum-scale\s*=\s*1(\.0*)?\b/.test(m.viewport)
        || (vp.isMobile && m.width !== vp.viewport.width)) {
        problems.viewport.push(`${at}: viewport "${m.viewport}", laid out ${m.width} px wide`);
    }
    await shot(page, `${label}-${vp.tag}`);
}

keepRunning(['grok']);
const contexts = [];
after(async () => {
    for (const c of contexts) await c.close();
});

before(async () => {
    // the account; the touch test below fills two histories
    const context = await launch({ timeout: TIMEOUT });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(url('/signup'));
    await signUp(page, user, '/');
    await page.close();
});

// A long prompt with no space to break at, so that the result and the
// history items have long text too.
const LONG = `A-banana-${'surfing-'.repeat(30)}wave`;

test('at 360 by touch alone: generate an image and an answer, see them, open the history entry', async () => {
    const { tag, ...opts } = VIEWPORTS[0];
    const context = await launch({ timeout: TIMEOUT, ...opts });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(url('/api/auth/signin'));
    await signIn(page, user, '/', { tap: true });

    await page.goto(url('/nano-banana/'));
    await page.locator('form.nbm-form').getByLabel('Prompt').tap();
    await page.keyboard.insertText(LONG);
    await page.locator('.nbm-generate:enabled').tap();
    await page.waitForFunction(() => document.querySelector('.nbm-result figure img')?.naturalWidth > 0);
    await page.locator('.nbm-grid > li').first().waitFor();
    await check(page, VIEWPORTS[0], 'image-result');
    await page.locator('.nbm-grid > li').first().locator('button, a').first().tap();
    await page.getByRole('dialog').waitFor();
    await check(page, VIEWPORTS[0], 'image-detail');

    await page.goto(url('/qwen/'));
    await page.getByLabel('Your message').tap();
    await page.keyboard.insertText(LONG);
    await page.getByRole('button', { name: /^Send/ }).tap();
    await page.locator('.nbm-history li').first().waitFor();
    await page.locator('.nbm-msg-assistant[aria-busy="false"]').waitFor();
    await settled(page);
    await check(page, VIEWPORTS[0], 'text-result');
});

for (const vp of VIEWPORTS) {
    test(`at ${vp.tag}: every page`, async () => {
        const { tag, ...opts } = vp;
        const context = await launch({ timeout: TIMEOUT, ...opts });
        contexts.push(context);
        const page = await context.newPage();
        for (const [label, path] of SIGNED_OUT) {
            await page.goto(url(path));
            await page.waitForLoadState('load');
            await check(page, vp, label);
        }
        await page.goto(url('/api/auth/signin'));
        await page.getByLabel('Email').fill(user.email);
        await page.getByLabel('Password').fill(user.password);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL((u) => u.pathname === '/');
        for (const [label, path] of PAGES) {
            await page.goto(url(path));
            await settled(page);
            await check(page, vp, label);
        }
        // nginx's 413 page: a form post over its 1 MiB limit
        await page.evaluate(() => {
            const f = document.createElement('form');
            f.method = 'post';
            f.action = '/settings';
            f.enctype = 'text/plain';
            const t = document.createElement('textarea');
            t.name = 'x';
            t.value = 'x'.repeat(2 * 1024 * 1024);
            f.append(t);
            document.body.append(f);
            f.submit();
        });
        await page.waitForURL((u) => u.pathname === '/settings');
        await page.locator('h1', { hasText: 'too large' }).waitFor();
        await check(page, vp, '413');
        // nginx's 502 page: a module that is not answering
        stackctl('stop-backend', 'grok');
        try {
            const res = await page.goto(url('/grok/'));
            assert.equal(res.status(), 502);
            await check(page, vp, '502');
        } finally {
            stackctl('start-backend', 'grok');
        }
    });
}

// The dashboard's chart between the phone's and the desktop's layouts:
// its labels were 11 px, and drawn smaller where its frame was narrower
// than its 720 px (about 641 to 790 px wide) (found by an earlier probe;
// fixed by the leftovers probe).
test('the dashboard chart\'s labels are 12 px or more at every width', async () => {
    const context = await launch({ timeout: TIMEOUT, viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(url('/api/auth/signin'));
    await signIn(page, user, '/');
    await page.locator('[data-nbd-chart] svg.nb-chart text').first().waitFor();
    const smallest = [];
    // one page laid out again at each width (the file's time is short)
    for (const width of [360, 640, 641, 700, 768, 790, 1280]) {
        await page.setViewportSize({ width, height: 900 });
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
        const m = await page.evaluate(measure);
        const sizes = await page.$$eval('[data-nbd-chart] svg.nb-chart text', (ts) => ts.map((t) => {
            const c = t.getScreenCTM();
            return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(c.a, c.b);
        }));
        assert.ok(sizes.length > 5, `${width}: the chart's labels (${sizes.length})`);
        smallest.push(`${width}: ${Math.min(...sizes).toFixed(2)} px`);
        assert.deepEqual(m.overflow, [], `${width}: the page does not scroll sideways`);
    }
    console.log(`the chart's smallest label: ${smallest.join(', ')}`);
    assert.ok(smallest.every((x) => parseFloat(x.split(': ')[1]) >= 12 - 1e-6), smallest.join(', '));
});

for (const kind of Object.keys(problems)) {
    test(`no page has problems of kind ${kind}`, () => {
        assert.deepEqual(problems[kind], []);
    });
}
