// How jobs store their outputs (docs/MODULES.md "Jobs"): an answer cut
// mid-body is no result (a download is fetched again, a POST never sent
// again, a job that cannot get a whole answer fails with its refund).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REGISTRY } from './lib.mjs';
import {
    person, generate, waitFor, row, ledgerOf, balanceOf, ledgerSum,
    price, fakeStats, fakeCount, tag, MEDIA_DIR, FAKE_URL,
} from './generations.mjs';

const has = (name) => REGISTRY.some((m) => m.name === name);
const RETRIES = 2;                // NANO_JOBS_RETRIES

// Every file below dir (dot files too), relative to it; [] when dir is
// not there.
function filesBelow(dir) {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => !e.isDirectory())
        .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)))
        .sort();
}

test('wan-2.5: a download cut mid-body is fetched again, and the whole video is stored', async () => {
    const m = 'wan-2.5';
    assert.ok(has(m), 'wan-2.5 is in the registry');
    const u = await person('cut-once');
    const cost = price(m);
    const before = await fakeStats();
    const r = await generate(u.jar, m, { prompt: `a video cut once [fake:cut-download=1] ${tag()}` });
    assert.equal(r.status, 202, r.text);
    const { id } = r.json();
    const g = await waitFor(u.jar, m, id, { ms: 30000 });
    assert.equal(g.status, 'succeeded', JSON.stringify(g.error));
    const stats = await fakeStats();
    assert.equal(fakeCount(stats, 'files') - fakeCount(before, 'files'), 2, 'one cut download, one whole');
    assert.equal(fakeCount(stats, 'wan.submit') - fakeCount(before, 'wan.submit'), 1, 'submitted once');

    // the stored file is the provider's, byte for byte
    const whole = Buffer.from(await (await fetch(`${FAKE_URL}${stats.last.files.url}`)).arrayBuffer());
    const out = row(id).outputs;
    assert.equal(out.length, 1);
    const stored = fs.readFileSync(path.join(MEDIA_DIR, out[0].file));
    assert.ok(stored.equals(whole), `stored ${stored.length} bytes, the provider's video has ${whole.length}`);
    assert.equal(out[0].bytes, whole.length);
    // only the output, under its final name: no temporary file left
    const dir = path.join(MEDIA_DIR, m, u.id, id);
    assert.deepEqual(filesBelow(dir), [path.basename(out[0].file)]);
    assert.ok(g.outputs[0].url.endsWith(`/media/${id}/${path.basename(out[0].file)}`), g.outputs[0].url);
    assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost]], 'charged once, no refund');
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});

test('wan-2.5: a download cut every time fails the job with one refund and leaves no file', async () => {
    const m = 'wan-2.5';
    assert.ok(has(m), 'wan-2.5 is in the registry');
    const u = await person('cut-always');
    const cost = price(m);
    const before = await fakeStats();
    const r = await generate(u.jar, m, { prompt: `a video always cut [fake:cut-download] ${tag()}` });
    assert.equal(r.status, 202, r.text);
    const { id } = r.json();
    const g = await waitFor(u.jar, m, id, { ms: 30000 });
    assert.equal(g.status, 'failed', `a truncated video is no result: ${JSON.stringify(g)}`);
    assert.equal(g.error.code, 'provider_error', JSON.stringify(g.error));
    assert.match(g.error.message, /connection to the provider broke/, g.error.message);
    assert.deepEqual(g.outputs, []);
    const stats = await fakeStats();
    assert.equal(fakeCount(stats, 'files') - fakeCount(before, 'files'), 1 + RETRIES, 'the download was tried again, twice');
    assert.equal(fakeCount(stats, 'wan.submit') - fakeCount(before, 'wan.submit'), 1, 'never submitted again');
    assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost], ['refund', cost]], 'refunded once');
    assert.equal(balanceOf(u.id), 100);
    assert.equal(ledgerSum(u.id), 100);
    assert.deepEqual(filesBelow(path.join(MEDIA_DIR, m, u.id)), [], 'no partial file');
});

test('nano-banana: an answer cut mid-body fails with one refund and is never sent again', async () => {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    const u = await person('cut-answer');
    const cost = price(m);
    const before = await fakeStats();
    const r = await generate(u.jar, m, { prompt: `an image cut short [fake:cut-answer] ${tag()}` });
    assert.equal(r.status, 202, r.text);
    const { id } = r.json();
    const g = await waitFor(u.jar, m, id, { ms: 20000 });
    assert.equal(g.status, 'failed', JSON.stringify(g));
    assert.equal(g.error.code, 'provider_error', JSON.stringify(g.error));
    const stats = await fakeStats();
    assert.equal(fakeCount(stats, 'gemini.generateContent') - fakeCount(before, 'gemini.generateContent'), 1,
        'a POST that may have been taken is not sent again');
    assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost], ['refund', cost]], 'refunded once');
    assert.equal(balanceOf(u.id), 100);
    assert.deepEqual(filesBelow(path.join(MEDIA_DIR, m, u.id)), []);
});
