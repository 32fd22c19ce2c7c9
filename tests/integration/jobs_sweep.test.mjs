// The media sweep (docs/MODULES.md "Media"): a module process removes
// the files under <media>/<module> that no generation names and the
// uploads under <media>/tmp that no request finished, once older than
// the grace (NANO_MEDIA_SWEEP_GRACE_SECS, default 3600 s).  Files a row
// names, a generation still running, young files and what a symbolic
// link points to all stay.  A second nano-banana process sweeps every
// second here; files are made "old" by setting their times back.  The
// stack's own nano-banana runs with its sweep off meanwhile: its first
// pass, a minute after a restart by an earlier file, could otherwise take
// the planted files before the second process, which then has nothing to
// report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { REGISTRY, retry, sleep } from './lib.mjs';
import {
    person, generate, waitFor, row, tag, waitSql, lit, secondBackend,
    withBackendEnv, psql, png, MEDIA_DIR, backendEnv, ROOT,
} from './generations.mjs';

const m = 'nano-banana';
const has = REGISTRY.some((x) => x.name === m);
const HOURS_AGO = (h) => new Date(Date.now() - h * 3600 * 1000);

// Writes file (and its folders) with times two hours back unless young.
function plant(file, { young = false, body = 'x' } = {}) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, body);
    if (!young) fs.utimesSync(file, HOURS_AGO(2), HOURS_AGO(2));
}

const age = (p) => fs.utimesSync(p, HOURS_AGO(2), HOURS_AGO(2));

// How long the running edit takes at the fake: long enough that it still
// runs when the checks are made on a slow host (they say so if not).
const RUNNING_MS = 15000;

test('the sweep removes only stale files that no generation names', { skip: !has && `${m} is not in the registry` }, async () => {
    await withBackendEnv(m, ['NANO_MEDIA_SWEEP_SECS=0'], sweepChecks);
});

async function sweepChecks() {
    const u = await person('sweep');
    const userDir = path.join(MEDIA_DIR, m, u.id);

    // a finished job with its output, and an edit whose input stays
    const r1 = await generate(u.jar, m, { prompt: `sweep kept ${tag()}` });
    assert.equal(r1.status, 202, r1.text);
    const g1 = await waitFor(u.jar, m, r1.json().id);
    assert.equal(g1.status, 'succeeded', JSON.stringify(g1.error));
    const r2 = await generate(u.jar, m, { prompt: `sweep edit ${tag()}`, image: png().toString('base64') });
    assert.equal(r2.status, 202, r2.text);
    const g2 = await waitFor(u.jar, m, r2.json().id);
    assert.equal(g2.status, 'succeeded', JSON.stringify(g2.error));
    const kept = [
        ...row(g1.id).outputs.map((o) => path.join(MEDIA_DIR, o.file)),
        ...row(g2.id).outputs.map((o) => path.join(MEDIA_DIR, o.file)),
        path.join(MEDIA_DIR, row(g2.id).params.inputImage.file),
    ];
    assert.equal(kept.length, 3);
    for (const f of kept) {
        assert.ok(fs.existsSync(f), `${f} is there`);
        age(f);
    }

    // a running edit: its folder is in use, whatever is in it, and its
    // input stays (one row naming both)
    const r3 = await generate(u.jar, m, { prompt: `sweep running [fake:slow=${RUNNING_MS}] ${tag()}`, image: png().toString('base64') });
    assert.equal(r3.status, 202, r3.text);
    const running = r3.json().id;
    await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(running)} AND "status" = 'running'`);
    const busyInput = path.join(MEDIA_DIR, row(running).params.inputImage.file);
    age(busyInput);

    const dir1 = path.join(userDir, g1.id);
    const orphanId = crypto.randomUUID();
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-sweep-'));
    const target = path.join(outside, 'not-ours.png');
    plant(target);
    const gone = [
        path.join(dir1, '.1-00000000000000aa.png.tmp'),      // a crash mid-write
        path.join(dir1, '1-00000000000000bb.png'),           // an end never recorded
        path.join(userDir, orphanId, '0-00000000000000cc.png'), // a deleted generation
        path.join(userDir, 'inputs', `${crypto.randomUUID()}.png`), // a request that died
        path.join(MEDIA_DIR, 'tmp', `sweep-${tag()}`),       // an upload never ended
    ];
    const young = [
        path.join(dir1, '2-00000000000000dd.png'),
        path.join(userDir, crypto.randomUUID(), '0-00000000000000ee.png'),
        path.join(userDir, 'inputs', `${crypto.randomUUID()}.png`),
        path.join(MEDIA_DIR, 'tmp', `sweep-young-${tag()}`),
    ];
    for (const f of gone) plant(f);
    for (const f of young) plant(f, { young: true });
    const busy = path.join(userDir, running, '9-00000000000000ff.png');
    plant(busy);
    const link = path.join(userDir, orphanId, '1-0000000000000011.png');
    fs.symlinkSync(target, link);
    age(path.join(userDir, orphanId));

    const second = await secondBackend(m, { NANO_MEDIA_SWEEP_SECS: '1', NANO_JOBS_MAX: '0' });
    try {
        const swept = await retry(() => gone.every((f) => !fs.existsSync(f)), 15000, 200);
        assert.ok(swept, `the stale files went: ${gone.filter((f) => fs.existsSync(f)).join(', ')}\n${second.log().slice(-1500)}`);
        // the pass logs once it has been through every user's folder
        const said = /media sweep of nano-banana: removed \d+ files/;
        assert.ok(await retry(() => said.test(second.log()), 10000, 100), second.log().slice(-1500));
        for (const f of kept) assert.ok(fs.existsSync(f), `a file a generation names stays: ${f}`);
        for (const f of young) assert.ok(fs.existsSync(f), `a young file stays: ${f}`);
        const status = () => psql(`SELECT "status" FROM "Generation" WHERE "id" = ${lit(running)}`);
        assert.ok(fs.existsSync(busy), `a running generation's folder is left alone (the edit, ${RUNNING_MS} ms at the fake, is ${status()})`);
        assert.ok(fs.existsSync(busyInput), 'and its input stays');
        assert.ok(fs.existsSync(target), 'what a link points to is never touched');
        assert.ok(fs.lstatSync(link).isSymbolicLink(), 'nor is the link removed');
        assert.ok(fs.existsSync(path.join(userDir, 'inputs')), 'inputs/ stays');

        // the deleted generation's folder goes once empty (the next pass)
        fs.unlinkSync(link);
        age(path.join(userDir, orphanId));
        const emptied = await retry(() => !fs.existsSync(path.join(userDir, orphanId)), 10000, 200);
        assert.ok(emptied, 'an old empty folder of no generation goes');

        // and the pages still serve what was kept
        const g = await waitFor(u.jar, m, g1.id);
        assert.equal(g.outputs.length, 1);
    } finally {
        await second.stop();
        fs.rmSync(outside, { recursive: true, force: true });
    }
    await waitFor(u.jar, m, running, { ms: RUNNING_MS + 30000 });
}

test('an old user folder left empty goes, with an old empty inputs/; a young one and one holding a file stay', { skip: !has && `${m} is not in the registry` }, async () => {
    await withBackendEnv(m, ['NANO_MEDIA_SWEEP_SECS=0'], async () => {
        const dir = (name) => path.join(MEDIA_DIR, m, `sweep-${name}-${tag()}`);
        const emptied = dir('emptied');            // the last generation deleted
        const inputsOnly = dir('inputs');          // an upload's folder, emptied
        const youngUser = dir('young');
        const holding = dir('holding');
        fs.mkdirSync(emptied, { recursive: true });
        fs.mkdirSync(path.join(inputsOnly, 'inputs'), { recursive: true });
        fs.mkdirSync(youngUser, { recursive: true });
        plant(path.join(holding, 'inputs', `${crypto.randomUUID()}.png`), { young: true });
        for (const d of [emptied, path.join(inputsOnly, 'inputs'), inputsOnly, path.join(holding, 'inputs'), holding]) age(d);

        const second = await secondBackend(m, { NANO_MEDIA_SWEEP_SECS: '1', NANO_JOBS_MAX: '0' });
        try {
            const swept = await retry(() => !fs.existsSync(emptied) && !fs.existsSync(inputsOnly), 15000, 200);
            assert.ok(swept, `the old empty folders went (${[emptied, inputsOnly].filter((d) => fs.existsSync(d)).join(', ')})\n${second.log().slice(-1500)}`);
            // a later pass (it logs only what it removed): a stale upload
            // planted now goes in it
            const marker = path.join(MEDIA_DIR, 'tmp', `sweep-marker-${tag()}`);
            plant(marker);
            assert.ok(await retry(() => !fs.existsSync(marker), 10000, 100), second.log().slice(-1500));
            assert.ok(fs.existsSync(youngUser), 'a young empty folder stays');
            assert.ok(fs.existsSync(path.join(holding, 'inputs')), 'a folder holding a young file stays');
            assert.equal(fs.readdirSync(path.join(holding, 'inputs')).length, 1);
        } finally {
            await second.stop();
            for (const d of [youngUser, holding]) fs.rmSync(d, { recursive: true, force: true });
        }
    });
});

// Every app takes uploads into the shared tmp/, which an installed system
// makes sticky (nano-setup: 3770): only an upload's owner can remove it.
// The image and video modules alone swept, so the uploads a text module
// or the platform left when killed mid-request stayed for good (and
// every module's pass warned it could not remove them).  Each app now
// sweeps tmp/ for its own; here a text module and the platform, each in
// a media folder of its own with a stale and a young upload.
for (const app of ['platform', REGISTRY.find((x) => x.kind === 'text')?.name].filter(Boolean)) {
    test(`${app} removes its own stale uploads under tmp/ and keeps young ones`, async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-sweep-tmp-'));
        const media = path.join(dir, 'media');
        const stale = path.join(media, 'tmp', 'up-stale1');
        const young = path.join(media, 'tmp', 'up-young1');
        plant(stale);
        plant(young, { young: true });
        const logFile = path.join(dir, 'app.log');
        const out = fs.openSync(logFile, 'a');
        const child = spawn(path.join(ROOT, `build/bin/nano-${app}`), ['--listen', `unix:${path.join(dir, 's.sock')}`], {
            env: {
                ...backendEnv(app), NANO_MEDIA_DIR: media, NANO_MEDIA_SWEEP_SECS: '1',
                NANO_REVOCATION_FILE: path.join(dir, 'revocations'),
            },
            stdio: ['ignore', out, out],
        });
        fs.closeSync(out);
        const exited = new Promise((resolve) => child.on('exit', resolve));
        const log = () => fs.readFileSync(logFile, 'utf8');
        try {
            const swept = await retry(() => !fs.existsSync(stale), 15000, 200);
            assert.ok(swept, `the stale upload went:\n${log().slice(-1500)}`);
            assert.ok(fs.existsSync(young), 'a young upload stays');
            assert.doesNotMatch(log(), /media sweep[^\n]*cannot/);
        } finally {
            child.kill('SIGTERM');
            if (await Promise.race([exited, sleep(10000).then(() => 'late')]) === 'late') child.kill('SIGKILL');
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
}
