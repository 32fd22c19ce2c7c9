// A wan-2.5 video as a person watches it, through the real gateway (the
// backend's X-Accel-Redirect, nginx's ranges): made on the page, it plays
// in the result panel, is seekable to its end, and a seek to its middle
// lands and plays on.  Then its file goes from the media folder (removed
// by hand, a restore that missed it): opened from the history in a new
// browser, the player said nothing at all (an empty dark box at 0:00)
// while the server answered "the file is no longer on the server"; the
// page now says so under it (found by the video probe).  Screenshots
// video-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { url, ORIGIN, launch, newUser, signIn, shooter, steps } from './lib.mjs';
import { psql, lit, MEDIA_DIR } from '../integration/generations.mjs';

const shot = shooter('video');
let context;
let later;

before(async () => {
    context = await launch({ timeout: 20000 });
});

after(async () => {
    await context?.close();
    await later?.close();
});

test('a video plays and seeks through the gateway; one whose file is gone says so when opened', async (t) => {
    const user = newUser('video');
    const r = await fetch(url('/api/register'), {
        method: 'POST', headers: { 'Content-Type': 'application/json', Origin: ORIGIN }, body: JSON.stringify(user),
    });
    assert.equal(r.status, 201, `register: ${await r.text()}`);
    const page = await context.newPage();
    const step = steps(t);
    let id;

    await step('made on the page, it plays, seeks to its middle and plays on', async () => {
        await page.goto(url('/api/auth/signin?callbackUrl=%2Fwan-2.5'));
        await signIn(page, user, '/wan-2.5');
        await page.locator('form.nbm-form').getByLabel('Prompt').fill('A kite over a beach');
        await page.locator('.nbm-generate:enabled').click();
        await page.waitForFunction(() => document.querySelector('.nbm-result video')?.readyState >= 2, null, { timeout: 30000 });
        const v = page.locator('.nbm-result video');
        const seen = await v.evaluate((el) => new Promise((resolve, reject) => {
            const t0 = setTimeout(() => reject(new Error(`no seek: currentTime ${el.currentTime}`)), 10000);
            const seekable = el.seekable.length ? [el.seekable.start(0), el.seekable.end(0)] : null;
            const middle = el.duration / 2;
            el.muted = true;
            el.addEventListener('seeked', () => {
                const at = el.currentTime;
                el.play().then(() => el.addEventListener('timeupdate', function on() {
                    if (el.currentTime > at + 0.05) {
                        el.removeEventListener('timeupdate', on);
                        clearTimeout(t0);
                        el.pause();
                        resolve({ duration: el.duration, seekable, middle, at, later: el.currentTime });
                    }
                }), reject);
            }, { once: true });
            el.currentTime = middle;
        }));
        assert.ok(seen.duration > 0, `duration ${seen.duration}`);
        assert.deepEqual(seen.seekable, [0, seen.duration], 'seekable from 0 to its end');
        assert.ok(Math.abs(seen.at - seen.middle) < 0.1, `seeked to ${seen.at} for ${seen.middle}`);
        assert.ok(seen.later > seen.at, `played on from the middle: ${seen.later}`);
        id = await page.locator('.nbm-grid > li').first().getAttribute('data-id');
        assert.ok(id, 'the history lists it');
        await shot(page, 'played');
    });

    // (a new browser: Chromium's player keeps the bytes it had of a URL
    // for minutes and plays them again without asking, even after a reload)
    await step('its file gone from the media folder, the opened video says so', async () => {
        const [rel] = JSON.parse(psql(`SELECT "outputs"::text FROM "Generation" WHERE "id" = ${lit(id)}`)).map((o) => o.file);
        fs.rmSync(path.join(MEDIA_DIR, rel));
        later = await launch({ timeout: 20000 });
        const p = await later.newPage();
        await p.goto(url('/api/auth/signin?callbackUrl=%2Fwan-2.5'));
        await signIn(p, user, '/wan-2.5');
        await p.locator(`.nbm-grid > li[data-id="${id}"] .nbm-thumb`).click();
        const note = p.locator('dialog[open] .nbm-figure .nbm-error');
        await note.filter({ hasText: /\S/ }).waitFor();
        assert.match(await note.innerText(), /This video is no longer on the server/);
        await shot(p, 'gone');
    });
});
