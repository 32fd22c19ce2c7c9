// How jobs store their outputs (docs/MODULES.md "Jobs"): an answer cut
// mid-body is no result (a download is fetched again, a POST never sent
// again, a job that cannot get a whole answer fails with its refund), nor
// is an image whose size cannot be read;
// each output is written under a temporary name of its own and renamed
// into place before the end is recorded; a runner whose end is not
// recorded (the account was deleted meanwhile, or another runner took
// the job over) removes what it wrote and never touches another's files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { STATE, REGISTRY, retry, get } from './lib.mjs';
import { account } from './accounts.mjs';
import {
    psql, lit, person, generate, waitFor, row, ledgerOf, balanceOf, ledgerSum,
    price, tag, waitSql, MEDIA_DIR, FAKE_URL, RETRIES, OUTPUT, filesBelow,
    oneJob, called, failedClean, withBackendEnv, fakeStats, history, del,
    traceSyncs,
} from './generations.mjs';

const has = (name) => REGISTRY.some((m) => m.name === name);
const logOf = (m) => `${STATE}/logs/${m}.log`;

// Waits for the runner's line saying id's end was not recorded.
async function notRecorded(m, id, from) {
    const seen = await retry(() => fs.readFileSync(logOf(m), 'utf8').slice(from)
        .includes(`job ${id}: its end was not recorded`), 20000, 100);
    assert.ok(seen, `${m}'s log says the end of ${id} was not recorded`);
}

// A new person's nano-banana job, held 4 s by the fake in its provider
// call: {u, id, from} (from: where the module's log stood then).
async function inProviderCall(who, prompt) {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    const u = await person(who);
    const r = await generate(u.jar, m, { prompt: `${prompt} [fake:slow=4000] ${tag()}` });
    assert.equal(r.status, 202, r.text);
    const { id } = r.json();
    await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "status" = 'running' AND "phase" = 'submitting'`);
    return { u, id, from: fs.statSync(logOf(m)).size };
}

test('wan-2.5: a download cut mid-body is fetched again, and the whole video is stored', async () => {
    const m = 'wan-2.5';
    const j = await oneJob(m, 'cut-once', 'a video cut once [fake:cut-download=1]');
    const { u, id, g } = j;
    assert.equal(g.status, 'succeeded', JSON.stringify(g.error));
    assert.equal(called(j, 'files'), 2, 'one cut download, one whole');
    assert.equal(called(j, 'wan.submit'), 1, 'submitted once');

    // the stored file is the provider's, byte for byte
    const whole = Buffer.from(await (await fetch(`${FAKE_URL}${j.after.last.files.url}`)).arrayBuffer());
    const out = row(id).outputs;
    assert.equal(out.length, 1);
    const stored = fs.readFileSync(path.join(MEDIA_DIR, out[0].file));
    assert.ok(stored.equals(whole), `stored ${stored.length} bytes, the provider's video has ${whole.length}`);
    assert.equal(out[0].bytes, whole.length);
    // only the output, under its final name: no temporary file left
    const dir = path.join(MEDIA_DIR, m, u.id, id);
    assert.deepEqual(filesBelow(dir), [path.basename(out[0].file)]);
    assert.match(path.basename(out[0].file), OUTPUT);
    assert.ok(g.outputs[0].url.endsWith(`/media/${id}/${path.basename(out[0].file)}`), g.outputs[0].url);
    assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -j.cost]], 'charged once, no refund');
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});

// The video is made and charged once DashScope says SUCCEEDED, and its
// URL holds for about a day: a download failed past the runner's own
// tries is asked again after the task's next poll, four rounds in all.
// Until 2026-12-06 the first round's failure (a line down for a few
// seconds) failed the video and refunded it.
test('wan-2.5: a download cut in two rounds of tries is tried again after a poll; the video stored, charged once', async () => {
    const j = await oneJob('wan-2.5', 'cut-rounds', `a video cut ${2 * (1 + RETRIES)} times [fake:cut-download=${2 * (1 + RETRIES)}]`, 60000);
    assert.equal(j.g.status, 'succeeded', JSON.stringify(j.g.error));
    assert.equal(called(j, 'files'), 2 * (1 + RETRIES) + 1, 'two rounds cut, then the whole file');
    assert.equal(called(j, 'wan.submit'), 1, 'submitted once');
    assert.equal(j.g.outputs.length, 1);
    assert.deepEqual(ledgerOf(j.id).map((x) => [x.reason, Number(x.delta)]), [['debit', -j.cost]], 'charged once, no refund');
});

test('wan-2.5: a download answered 503 past the runner\'s tries is tried again after a poll; the video stored, charged once', async () => {
    const j = await oneJob('wan-2.5', 'busy-download', `a video on a busy store [fake:busy-download=${2 + RETRIES}]`, 60000);
    assert.equal(j.g.status, 'succeeded', JSON.stringify(j.g.error));
    assert.equal(called(j, 'files'), 3 + RETRIES, 'a round of 503s, then a 503 and the whole file');
    assert.equal(called(j, 'wan.submit'), 1, 'submitted once');
    assert.deepEqual(ledgerOf(j.id).map((x) => [x.reason, Number(x.delta)]), [['debit', -j.cost]], 'charged once, no refund');
});

// A download whose connection closed early with no Content-Length ends
// as a whole one would: the container says it is cut short (an MP4's
// boxes or a WebM's Segment running past the end).  Until 2026-12-06
// the quarter of a video that came was stored and charged as a success.
test('wan-2.5: a video download cut short with no length to tell is fetched again after a poll; the whole video stored, charged once', async () => {
    const j = await oneJob('wan-2.5', 'short-twice', 'a video cut short twice [fake:short-download=2]', 60000);
    assert.equal(j.g.status, 'succeeded', JSON.stringify(j.g.error));
    assert.equal(called(j, 'files'), 3, 'two short downloads, then the whole file');
    const whole = Buffer.from(await (await fetch(`${FAKE_URL}${j.after.last.files.url}`)).arrayBuffer());
    const out = row(j.id).outputs;
    assert.equal(out.length, 1);
    assert.ok(fs.readFileSync(path.join(MEDIA_DIR, out[0].file)).equals(whole), 'the stored file is the whole video');
    assert.deepEqual(ledgerOf(j.id).map((x) => [x.reason, Number(x.delta)]), [['debit', -j.cost]], 'charged once, no refund');
});

test('wan-2.5: a video download cut short every time fails the job bad_response after four rounds, one refund, no file', async () => {
    const j = await oneJob('wan-2.5', 'short-always', 'a video always cut short [fake:short-download]', 90000);
    failedClean(j, 'wan-2.5', 'bad_response');
    assert.match(j.g.error.message, /cut short/, j.g.error.message);
    assert.equal(called(j, 'files'), 4, 'four rounds of one download');
    assert.equal(called(j, 'wan.submit'), 1, 'never submitted again');
});

test('wan-2.5: a download cut every time fails the job after four rounds, with one refund, and leaves no file', async () => {
    const j = await oneJob('wan-2.5', 'cut-always', 'a video always cut [fake:cut-download]', 90000);
    failedClean(j, 'wan-2.5', 'provider_error');
    assert.match(j.g.error.message, /connection to the provider broke/, j.g.error.message);
    assert.equal(called(j, 'files'), 4 * (1 + RETRIES), 'four rounds of the runner\'s three tries');
    assert.equal(called(j, 'wan.submit'), 1, 'never submitted again');
});

// DashScope's video_url is an object store's signed address; one behind
// a CDN may answer with redirects.  Until 2026-12-06 the first 302
// failed the video, refunded.
test('wan-2.5: a video download behind redirects follows them; the video stored, charged once', async () => {
    const j = await oneJob('wan-2.5', 'redirect', 'a video behind a CDN [fake:redirect-download=2]', 60000);
    assert.equal(j.g.status, 'succeeded', JSON.stringify(j.g.error));
    assert.equal(called(j, 'redirects'), 2, 'two redirects followed');
    assert.equal(called(j, 'files'), 1, 'one download');
    const whole = Buffer.from(await (await fetch(`${FAKE_URL}${j.after.last.files.url}`)).arrayBuffer());
    const out = row(j.id).outputs;
    assert.equal(out.length, 1);
    assert.ok(fs.readFileSync(path.join(MEDIA_DIR, out[0].file)).equals(whole), 'the stored file is the whole video');
    assert.deepEqual(ledgerOf(j.id).map((x) => [x.reason, Number(x.delta)]), [['debit', -j.cost]], 'charged once, no refund');
});

test('wan-2.5: a video download redirected more than five times fails bad_response at once, one refund, no rounds', async () => {
    const j = await oneJob('wan-2.5', 'redirect-loop', 'a video in a redirect loop [fake:redirect-download=20]', 60000);
    failedClean(j, 'wan-2.5', 'bad_response');
    assert.match(j.g.error.message, /redirected too often/, j.g.error.message);
    assert.equal(called(j, 'redirects'), 6, 'the first address and five redirects, never tried again');
    assert.equal(called(j, 'wan.submit'), 1, 'never submitted again');
});

test('nano-banana: an answer cut mid-body fails with one refund and is never sent again', async () => {
    const j = await oneJob('nano-banana', 'cut-answer', 'an image cut short [fake:cut-answer]', 20000);
    failedClean(j, 'nano-banana', 'provider_error');
    assert.equal(called(j, 'gemini.generateContent'), 1, 'a POST that may have been taken is not sent again');
});

// A JPEG with no frame header is a JPEG by its first bytes but has no
// size and shows nothing: until 2026-12-06 it was stored as a success of
// 0 x 0 pixels and charged (found by the images probe).
test('nano-banana: an image answer whose size cannot be read (a JPEG without a frame header) fails bad_response with one refund, nothing stored', async () => {
    const j = await oneJob('nano-banana', 'frameless', 'an image with no size [fake:frameless-jpeg]', 20000);
    failedClean(j, 'nano-banana', 'bad_response');
    assert.match(j.g.error.message, /size cannot be read/, j.g.error.message);
    assert.equal(called(j, 'gemini.generateContent'), 1, 'asked once');
});

test('nano-banana: a request whose connection closed before any answer is never sent again, by libcurl either: one refund', async () => {
    // the first job leaves the runner a kept connection to the fake; on a
    // reused connection that dies so, libcurl would send the POST again
    // on a new one, and the provider would act twice
    const warm = await oneJob('nano-banana', 'warm-conn', 'an image before a lost answer');
    assert.equal(warm.g.status, 'succeeded', JSON.stringify(warm.g.error));
    const j = await oneJob('nano-banana', 'drop-once', 'an image whose answer is lost [fake:drop-once]', 20000);
    failedClean(j, 'nano-banana', 'provider_error');
    // which provider, as a text call's failure says (it said "the provider")
    assert.match(j.g.error.message, /^Gemini could not be reached: the connection to the provider broke/, j.g.error.message);
    assert.equal(called(j, 'gemini.generateContent'), 1, 'a POST that may have been taken is not sent again');
});

test('nano-banana: an account deleted during its provider call leaves no file of the job behind', async () => {
    const m = 'nano-banana';
    const { u, id, from } = await inProviderCall('gone-mid-job', 'an image for nobody');
    const res = await account('DELETE', '/api/account', u.jar, { password: u.user.password });
    assert.equal(res.status, 200, res.text);
    assert.equal(row(id), null, 'the generation went with the account');

    await notRecorded(m, id, from);
    const userDir = path.join(MEDIA_DIR, m, u.id);
    assert.ok(!fs.existsSync(userDir), `nothing of the deleted user under the media folder: ${filesBelow(userDir)}`);
});

test('nano-banana: a deleted user\'s folder that another of its jobs made again goes with the last of them', async () => {
    const m = 'nano-banana';
    const { u, id, from } = await inProviderCall('gone-folder', 'an image for nobody, in a folder made again');
    const res = await account('DELETE', '/api/account', u.jar, { password: u.user.password });
    assert.equal(res.status, 200, res.text);
    // as another job of the user, writing when the account went, makes
    // the folder again (the deletion removed it): this job did not make
    // it, and still must not leave it behind
    const userDir = path.join(MEDIA_DIR, m, u.id);
    fs.mkdirSync(userDir, { recursive: true });

    await notRecorded(m, id, from);
    assert.ok(!fs.existsSync(userDir), `nothing of the deleted user under the media folder: ${filesBelow(userDir)}`);
});

test('nano-banana: a runner whose job was taken over removes only what it wrote', async () => {
    const m = 'nano-banana';
    const { u, id, from } = await inProviderCall('lost-job', 'an image another runner finishes');
    const cost = price(m);
    // another runner holds it now, and has written into its folder: a
    // finished output and one still being written
    const other = 'other-host:1:0123456789abcdef';
    psql(`UPDATE "Generation" SET "leaseOwner" = ${lit(other)},
        "leaseUntil" = extract(epoch FROM now())::bigint + 600 WHERE "id" = ${lit(id)}`);
    const dir = path.join(MEDIA_DIR, m, u.id, id);
    const theirs = { '0-ffffffffffffffff.png': 'the winner\'s image', '.0-eeeeeeeeeeeeeeee.png.tmp': 'being written', '0.png': 'an older name' };
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(theirs)) fs.writeFileSync(path.join(dir, name), text);
    try {
        await notRecorded(m, id, from);
        assert.deepEqual(filesBelow(dir), Object.keys(theirs).sort(), 'the losing runner\'s file is gone, the others stay');
        for (const [name, text] of Object.entries(theirs)) {
            assert.equal(fs.readFileSync(path.join(dir, name), 'utf8'), text, `${name} untouched`);
        }
        const held = row(id);
        assert.equal(held.status, 'running');
        assert.equal(held.leaseOwner, other, 'still the other runner\'s');

        // that runner dies in "submitting": its lease runs out, the job
        // fails as interrupted with its refund, and the files in the
        // folder are still not this runner's to remove
        psql(`UPDATE "Generation" SET "leaseUntil" = extract(epoch FROM now())::bigint - 5 WHERE "id" = ${lit(id)}`);
        const g = await waitFor(u.jar, m, id, { ms: 20000 });
        assert.equal(g.status, 'failed', JSON.stringify(g));
        assert.equal(g.error.code, 'interrupted', JSON.stringify(g.error));
        assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost], ['refund', cost]]);
        assert.deepEqual(filesBelow(dir), Object.keys(theirs).sort());
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

// An output the server cannot write is the server's failure, not the
// provider's: code "storage", one refund, and the log says why.  Root
// writes anywhere, so the user's folder is made immutable (chattr +i);
// skipped where the file system has no such attribute.  nano-banana
// stores the fake Gemini's answer, seedream makes an offline picture.
test('an output the server cannot store fails as "storage" with one refund, the reason in the log (a provider\'s answer and an offline one)', async (t) => {
    for (const m of ['nano-banana', 'seedream'].filter(has)) {
        const u = await person(`storage-${m}`);
        const dir = path.join(MEDIA_DIR, m, u.id);
        fs.mkdirSync(dir, { recursive: true });
        const locked = spawnSync('chattr', ['+i', dir], { encoding: 'utf8' });
        if (locked.status !== 0) {
            t.skip(`chattr +i is not available here: ${(locked.stderr || locked.error?.message || '').trim()}`);
            return;
        }
        const from = fs.statSync(logOf(m)).size;
        let g;
        let id;
        try {
            const r = await generate(u.jar, m, { prompt: `a picture with nowhere to go ${tag()}` });
            assert.equal(r.status, 202, r.text);
            id = r.json().id;
            g = await waitFor(u.jar, m, id);
        } finally {
            spawnSync('chattr', ['-i', dir]);
        }
        assert.equal(g.status, 'failed', JSON.stringify(g));
        assert.deepEqual(g.error, { code: 'storage', message: 'the server could not store the image' });
        assert.deepEqual(ledgerOf(id).map((x) => x.reason), ['debit', 'refund'], `${m}: refunded once`);
        assert.equal(balanceOf(u.id), 100);
        assert.match(fs.readFileSync(logOf(m), 'utf8').slice(from),
            new RegExp(`job ${id}: cannot make .*: Operation not permitted`), `${m}: the log says why`);
        assert.deepEqual(filesBelow(dir), [], `${m}: nothing left in the folder`);
    }
});

// A provider's file is read into memory (a video up to 256 MiB), and
// until 2026-12-06 nothing capped the downloads in flight: 200 videos
// could hold 200 times that.  The runner keeps them within
// NANO_JOBS_DOWNLOAD_MB, each counted at its cap; 256 here lets one
// video download go at a time, and the others wait their turn, running.
test('wan-2.5: video downloads in flight stay within NANO_JOBS_DOWNLOAD_MB; the ones that waited are stored, charged once', async () => {
    const m = 'wan-2.5';
    await withBackendEnv(m, ['NANO_JOBS_DOWNLOAD_MB=256'], async () => {
        const u = await person('download-room');
        const cost = price(m);
        const t = tag();
        const res = await fetch(`${FAKE_URL}/_fake/reset`, { method: 'POST' });
        assert.equal(res.status, 200);
        const ids = await Promise.all([0, 1, 2].map(async (i) => {
            const r = await generate(u.jar, m, { prompt: `room ${t} #${i} [fake:slow-download=2000]` });
            assert.equal(r.status, 202, `#${i}: ${r.text}`);
            return r.json().id;
        }));
        for (const id of ids) {
            const g = await waitFor(u.jar, m, id, { ms: 90000 });
            assert.equal(g.status, 'succeeded', `${id}: ${JSON.stringify(g.error)}`);
            assert.equal(g.outputs.length, 1);
            assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost]], `${id}: charged once`);
        }
        const s = await fakeStats();
        assert.equal(s.maxFilesInFlight, 1, 'one video download at a time');
        assert.equal(ledgerSum(u.id), balanceOf(u.id));
    });
});

// A stored output gone from the disk (removed by hand, a restore that
// missed it) while its row still names it: the media route answered
// with nginx's HTML page and no backend log said which generation lost
// what.  Now a JSON 404 and a warning naming both; the generation still
// shows in the history and can be deleted, which leaves no folder of it.
test('nano-banana: an output removed from the disk answers a JSON 404 and a warning; the generation is still listed and deleted', { skip: !has('nano-banana') && 'nano-banana is not in the registry' }, async () => {
    const m = 'nano-banana';
    const j = await oneJob(m, 'gone-file', 'a picture lost from the disk');
    assert.equal(j.g.status, 'succeeded', JSON.stringify(j.g.error));
    const [file] = row(j.id).outputs.map((o) => path.join(MEDIA_DIR, o.file));
    const url = j.g.outputs[0].url;
    const ok = await get(url, { headers: j.u.jar.headers() });
    assert.equal(ok.status, 200);
    assert.equal(Number(ok.headers['content-length']), fs.statSync(file).size);

    fs.unlinkSync(file);
    const from = fs.statSync(logOf(m)).size;
    const r = await get(url, { headers: j.u.jar.headers() });
    assert.equal(r.status, 404);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.deepEqual(r.json(), { error: 'not_found', message: 'the file is no longer on the server' });
    assert.match(fs.readFileSync(logOf(m), 'utf8').slice(from),
        new RegExp(`generation ${j.id}: its file ${m}/${j.u.id}/${j.id}/0-[0-9a-f]{16}\\.png is not in the media folder`));

    const h = await history(j.u.jar, m);
    assert.deepEqual(h.json().items.map((g) => g.id), [j.id]);
    const d = await del(j.u.jar, m, j.id);
    assert.equal(d.status, 200, d.text);
    assert.equal(row(j.id), null);
    assert.equal(fs.existsSync(path.dirname(file)), false, 'the generation\'s folder went');
});

// A DELETE whose files cannot be removed (a read-only or immutable
// folder) still deletes the row, and the owner believes the picture
// gone; nothing said the file stayed.  Now a warning names it.  The
// generation's folder is made immutable (chattr +i; skipped where the
// file system has no such attribute).
test('nano-banana: a DELETE whose file cannot be removed deletes the row and says in the log which file stayed', { skip: !has('nano-banana') && 'nano-banana is not in the registry' }, async (t) => {
    const m = 'nano-banana';
    const j = await oneJob(m, 'stuck-file', 'a picture that will not go');
    assert.equal(j.g.status, 'succeeded', JSON.stringify(j.g.error));
    const [file] = row(j.id).outputs.map((o) => path.join(MEDIA_DIR, o.file));
    const dir = path.dirname(file);
    const locked = spawnSync('chattr', ['+i', dir], { encoding: 'utf8' });
    if (locked.status !== 0) {
        t.skip(`chattr +i is not available here: ${(locked.stderr || locked.error?.message || '').trim()}`);
        return;
    }
    const from = fs.statSync(logOf(m)).size;
    try {
        const d = await del(j.u.jar, m, j.id);
        assert.equal(d.status, 200, d.text);
        assert.equal(row(j.id), null);
        assert.ok(fs.existsSync(file), 'the file is still there');
        assert.ok(fs.readFileSync(logOf(m), 'utf8').slice(from)
            .includes(`cannot remove ${file} of a deleted generation: Operation not permitted`),
        `${m}'s log names the file that stayed`);
    } finally {
        spawnSync('chattr', ['-i', dir]);
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

// An output is on the disk before the generation is recorded as
// succeeded: the file's data synced before its rename, the folder that
// holds the new name synced after it (and each folder the job made, in
// its parent).  Without either, a host that lost its power or crashed
// after the row said "succeeded" (PostgreSQL syncs its commit) came back
// with the output empty or missing: charged, and nothing to show (found
// by the failures probe).  strace (a dependency of make test) watches the
// stack's own process.
for (const [m, ext] of [['nano-banana', 'png'], ['wan-2.5', 'webm']].filter(([n]) => has(n))) {
    test(`${m}: the output is synced, then renamed, then its folders synced, before the end is recorded`, async (t) => {
        const u = await person(`sync-${m}`);
        const traced = await traceSyncs(t, m, async () => {
            const r = await generate(u.jar, m, { prompt: `synced ${tag()}` });
            assert.equal(r.status, 202, r.text);
            return waitFor(u.jar, m, r.json().id, { ms: 60000 });
        });
        if (!traced) return;
        const g = traced.value;
        assert.equal(g.status, 'succeeded', JSON.stringify(g.error));
        const calls = traced.calls.filter((l) => l.includes(g.id));
        const dir = path.join(MEDIA_DIR, m, u.id, g.id);
        const renamed = calls.findIndex((l) => /\brename(at2?)?\(/.test(l) && l.includes(`.${ext}.tmp`));
        assert.ok(renamed >= 0, `the output's rename:\n${calls.join('\n')}`);
        const synced = calls.findIndex((l) => /\bf(data)?sync\(\d+<[^>]*\.tmp>\) = 0/.test(l));
        assert.ok(synced >= 0 && synced < renamed, `its data synced before the rename:\n${calls.join('\n')}`);
        const dirSynced = calls.findIndex((l, i) => i > renamed && l.includes(`fsync(`) && l.includes(`<${dir}>) = 0`));
        assert.ok(dirSynced > renamed, `its folder synced after the rename:\n${calls.join('\n')}`);
        // a new person's folder was made by this job: it holds the
        // job's folder's name
        const mine = `<${path.join(MEDIA_DIR, m, u.id)}>) = 0`;
        assert.ok(traced.calls.some((l) => /\bfsync\(/.test(l) && l.endsWith(mine)),
            'the folder the job made is synced in its parent');
    });
}
