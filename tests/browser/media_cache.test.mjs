// A deleted generation's media is not shown again from the browser's
// cache.  An image and a video made on the page are opened at their
// media URL (a tab of their own, and an element in a fresh document, as
// the history's dialog makes one); the generation is deleted on the page;
// then the same URL, opened again the same two ways in the same browser,
// is the server's 404.  With media answered "max-age=3600" Chromium
// showed them from its caches for an hour after the delete: media are
// now "private, no-cache", asked about each time (a 304 while the file
// exists).  A video element in the tab that played it is the exception
// no header changes (docs/MODULES.md): the new one here is in another
// tab.  Screenshots media-cache-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { url, ORIGIN, launch, newUser, signIn, shooter, steps } from './lib.mjs';

const shot = shooter('media-cache');
let context;

before(async () => {
    context = await launch({ timeout: 20000 });
});

after(async () => {
    await context?.close();
});

/* Opens src as an img or a video in a new document of page: whether it
 * rendered (an image's natural width, a video's loaded frame) or failed. */
function render(page, kind, src) {
    return page.evaluate(([kind, src]) => new Promise((resolve) => {
        document.body.replaceChildren();
        const el = document.createElement(kind);
        const t0 = setTimeout(() => resolve('nothing'), 10000);
        const done = (what) => {
            clearTimeout(t0);
            resolve(what);
        };
        if (kind === 'img') {
            el.onload = () => done(el.naturalWidth > 0 ? 'rendered' : 'failed');
        } else {
            el.muted = true;
            el.preload = 'auto';
            el.onloadeddata = () => done('rendered');
        }
        el.onerror = () => done('failed');
        el.src = src;
        document.body.append(el);
    }), [kind, src]);
}

test('media opened before its generation is deleted is the server\'s 404 after, not the cache\'s copy', async (t) => {
    const user = newUser('mcache');
    const r = await fetch(url('/api/register'), {
        method: 'POST', headers: { 'Content-Type': 'application/json', Origin: ORIGIN }, body: JSON.stringify(user),
    });
    assert.equal(r.status, 201, `register: ${await r.text()}`);
    const page = await context.newPage();
    const viewer = await context.newPage();
    const step = steps(t);
    let signedIn = false;

    for (const [module, kind, prompt] of [['seedream', 'img', 'A pear on a plate'], ['wan-2.5', 'video', 'A kite over a beach']]) {
        let id;
        let src;
        await step(`${module}: made on the page, its ${kind} opened at its URL twice and in a new ${kind}`, async () => {
            await page.goto(url(`/${module}/`));
            if (!signedIn) {
                await signIn(page, user, `/${module}/`);
                signedIn = true;
            }
            await page.locator('form.nbm-form').getByLabel('Prompt').fill(prompt);
            await page.locator('.nbm-generate:enabled').click();
            await page.waitForFunction((k) => {
                const el = document.querySelector(`.nbm-result figure ${k}`);
                return k === 'img' ? el?.naturalWidth > 0 : el?.readyState >= 2;
            }, kind, { timeout: 30000 });
            src = await page.locator(`.nbm-result figure ${kind}`).evaluate((el) => el.currentSrc || el.src);
            id = await page.locator('.nbm-grid > li').first().getAttribute('data-id');
            assert.ok(id && src.includes(id), `the media URL ${src} is the generation ${id}'s`);

            const first = await viewer.goto(src);
            assert.equal(first.status(), 200, `${src} opened`);
            await viewer.goto('about:blank');
            assert.equal((await viewer.goto(src)).status(), 200, 'opened again');
            await viewer.goto(url('/ui/ui.css'));
            assert.equal(await render(viewer, kind, src), 'rendered', `a new ${kind} of ${src}`);
        });

        await step(`${module}: deleted on the page, the same URL is the server's 404, opened and in a new ${kind}`, async () => {
            await viewer.goto(url('/ui/ui.css'));
            const card = page.locator(`.nbm-grid > li[data-id="${id}"]`);
            await card.getByRole('button', { name: /^Delete/ }).click();
            await page.getByRole('dialog', { name: 'Delete' }).getByRole('button', { name: 'Delete' }).click();
            await card.waitFor({ state: 'detached' });

            // (a video element in the same tab may still play it: Chromium's
            // player reuses the bytes it holds of a URL in that frame for 5
            // minutes, whatever the answer's headers; docs/MODULES.md)
            let where = viewer;
            if (kind === 'video') {
                where = await context.newPage();
                await where.goto(url('/ui/ui.css'));
            }
            assert.equal(await render(where, kind, src), 'failed', `the deleted ${kind} rendered from the cache`);
            if (where !== viewer) await where.close();
            const gone = await viewer.goto(src);
            assert.equal(gone.status(), 404, `the deleted ${kind}'s URL answered from the cache`);
            assert.equal(gone.headers()['cache-control'], 'no-store');
            await shot(viewer, `${module}-deleted`);
        });
    }
});
