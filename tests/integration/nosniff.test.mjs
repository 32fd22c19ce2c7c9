// X-Content-Type-Options: nosniff on every answer nginx makes itself, as
// on the backends' (nano_http.c): the gateway module's 401 JSON, 403 csrf
// and sign-in redirect, nginx's error pages (413, 429, the refusals; 502
// and 504 are in outages.test.mjs), /ui/'s files and a module snippet's
// own return.  Only the media location said it; add_header is inherited
// only by a location without one of its own (found by an earlier probe;
// fixed by the leftovers probe).  A backend's answer carries it once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ORIGIN, MODULES, get, request, form, signedInUser, location } from './lib.mjs';
import { FORM } from './accounts.mjs';
import { person, generate, waitFor } from './generations.mjs';

const HTML = 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8';
const m = MODULES[0];

function nosniff(res, what) {
    assert.equal(res.headers['x-content-type-options'], 'nosniff',
        `${what} (${res.status} ${res.headers['content-type']}): X-Content-Type-Options once`);
}

test('the gateway module\'s answers say nosniff: 401 JSON, the sign-in redirect, 403 csrf', async () => {
    const api = await get(`/${m}/api/me`);
    assert.equal(api.status, 401);
    nosniff(api, 'a 401 without a session');
    const page = await get('/billing', { headers: { Accept: HTML } });
    assert.equal(page.status, 302);
    assert.match(location(page).raw, /^\/api\/auth\/signin/);
    nosniff(page, 'the redirect to sign in');
    const { jar } = await signedInUser('nosniff');
    const cross = await request('POST', `/${m}/api/generate`, {
        headers: jar.headers({ 'Content-Type': 'application/json', Origin: 'https://evil.example' }),
        body: '{"prompt":"x"}',
    });
    assert.equal(cross.status, 403, cross.text.slice(0, 200));
    assert.equal(cross.json().error, 'csrf');
    nosniff(cross, 'a cross-site POST');
    // and a backend's own answer, once (not "nosniff, nosniff")
    nosniff(await get(`/${m}/api/me`, { headers: jar.headers() }), 'a backend\'s answer');
    nosniff(await get('/api/auth/session', { headers: jar.headers() }), 'the platform\'s answer');
});

test('nginx\'s own pages and files say nosniff: 413, 429, refusals, /ui/, a snippet\'s return', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024);
    const json413 = await request('POST', '/api/register', {
        headers: { 'Content-Type': 'application/json', Origin: ORIGIN, Accept: 'application/json' }, body: big,
    });
    assert.equal(json413.status, 413);
    nosniff(json413, 'the 413 JSON');
    const html413 = await request('POST', '/settings', {
        headers: { 'Content-Type': 'text/plain', Origin: ORIGIN, Accept: HTML }, body: big,
    });
    assert.equal(html413.status, 413);
    nosniff(html413, 'the 413 page');

    // the test stack keys the sign-in zone on X-Nano-Test-Client
    const client = `nosniff-${crypto.randomBytes(6).toString('hex')}`;
    const send = (accept) => request('POST', '/api/auth/callback/credentials', {
        headers: { ...FORM, Accept: accept, 'X-Nano-Test-Client': client },
        body: form({ email: 'nobody@example.com', password: 'whatever-123', json: 'true', callbackUrl: '/' }),
    });
    let r;
    for (let n = 0; n < 25 && r?.status !== 429; n++) r = await send('*/*');
    assert.equal(r.status, 429, 'the sign-in zone limits');
    nosniff(r, 'the 429 JSON');
    const html429 = await send(HTML);
    assert.equal(html429.status, 429);
    nosniff(html429, 'the 429 page');

    for (const [path, status, accept] of [['/ui/', 404, HTML], ['/ui/templates/x', 404, 'application/json'],
        [`/${m}/api/auth/session`, 404, '*/*'], ['/ui/ui.css', 200, '*/*']]) {
        const res = await get(path, { headers: { Accept: accept } });
        assert.equal(res.status, status, path);
        nosniff(res, path);
    }
    const put = await request('PUT', '/ui/ui.css', { headers: { Origin: ORIGIN }, body: '' });
    assert.equal(put.status, 405);
    nosniff(put, 'a 405 refusal');
});

// nginx's 416 comes from its range filter, after the location's own
// add_header said nosniff, and the refusal page said it again: "nosniff,
// nosniff" on a range past the end of a /ui/ file or of a video (found by
// the video probe).
test('a range past the end (416) says nosniff once: a /ui/ file and a video', async () => {
    const u = await person('nosniff-416');
    const made = await generate(u.jar, 'wan-2.5', { prompt: `a video to seek past ${crypto.randomBytes(4).toString('hex')}` });
    assert.equal(made.status, 202, made.text);
    const g = await waitFor(u.jar, 'wan-2.5', made.json().id, { ms: 60000 });
    assert.equal(g.status, 'succeeded', JSON.stringify(g.error));
    for (const [path, headers] of [['/ui/ui.css', {}], [g.outputs[0].url, u.jar.headers()]]) {
        const whole = await get(path, { headers });
        assert.equal(whole.status, 200, path);
        const size = Number(whole.headers['content-length']);
        const res = await get(path, { headers: { ...headers, Range: `bytes=${size}-` } });
        assert.equal(res.status, 416, path);
        assert.equal(res.headers['content-range'], `bytes */${size}`, path);
        nosniff(res, `${path} past its end`);
    }
});
