// A job followed again after a reload is timed from its createdAt, the
// server's time.  A browser whose clock is hours off (a laptop with a
// wrong zone set by hand, a VM back from sleep) showed the counter at
// hours, or stuck at 0:00; the page now reads how far off it is from the
// Date of the server's answers.  Debian's chromium, its Date.now shifted
// by two hours either way; a nano-banana job held by the fake's slow
// answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { url, ORIGIN, launch, newUser, signUp } from './lib.mjs';

const TIMEOUT = 20000;
const SKEW = 2 * 3600 * 1000;
let context;

before(async () => {
    context = await launch({ timeout: TIMEOUT });
});

after(async () => {
    await context?.close();
});

// m:ss (or more minutes) -> seconds
const seconds = (text) => {
    const [m, s] = text.split(':').map(Number);
    return m * 60 + s;
};

for (const [what, skew] of [['ahead', SKEW], ['behind', -SKEW]]) {
    test(`a resumed job's counter shows the time since it began with the browser's clock two hours ${what}`, async () => {
        const page = await context.newPage();
        await page.goto(url('/signup'));
        await signUp(page, newUser(`clock-${what}`), '/');
        const res = await page.request.post(url('/nano-banana/api/generate'), {
            headers: { Origin: ORIGIN },
            data: { prompt: `a slow banana ${what} [fake:slow=20000]` },
        });
        assert.equal(res.status(), 202, await res.text());
        const t0 = Date.now();

        const skewed = await context.newPage();
        await skewed.addInitScript((ms) => {
            const real = Date.now.bind(Date);
            Date.now = () => real() + ms;
        }, skew);
        await skewed.goto(url('/nano-banana/'));
        const counter = skewed.locator('.nbm-result .nbm-clock');
        await counter.waitFor();
        await skewed.waitForTimeout(6000);
        const shown = seconds(await counter.textContent());
        const real = (Date.now() - t0) / 1000;
        assert.ok(Math.abs(shown - real) <= 4, `the counter shows ${shown} s; the job began ${real.toFixed(1)} s ago`);
        await skewed.close();
        await page.close();
    });
}
