// Backup and restore (docs/OPERATIONS.md, "Backup and restore"): a
// pg_dump taken while a wan-2.5 video runs, restored with pg_restore into
// a new database that then replaces the stack's (every backend stopped
// first), as an operator restores: nano-migrate has nothing to do and
// finds no edited migration, the sequences go on (a new debit gets a new
// ledger id), a cookie of before the dump still signs in, the video that
// was running is taken over when its lease runs out and resumed from its
// stored task (one submit, one debit), a generation whose file the media
// copy lacks answers 404 with JSON on its file and 200 on its record,
// one made after the dump is unknown (404) and its file goes with the
// media sweep, an account made after the dump has no session, and a
// sign-out made after the dump is undone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { REGISTRY, get, stackctl, keepRunning, retry } from './lib.mjs';
import { PG_SOCK, copyJar, signOut } from './accounts.mjs';
import {
    psql, lit, person, generate, generation, history, credits, waitFor, row,
    ledgerOf, fakeStats, fakeCount, tag, waitSql, price, withBackendEnv, MEDIA_DIR, ROOT,
} from './generations.mjs';

const has = (name) => REGISTRY.some((m) => m.name === name);
const APPS = ['platform', ...REGISTRY.map((m) => m.name)];
const LEASE_SECS = 30;        // NANO_JOBS_LEASE_SECS
const BINDIR = process.env.NANO_TEST_PG_BINDIR || '/usr/lib/postgresql/15/bin';
const MIGRATE = path.join(ROOT, 'build/bin/nano-migrate');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-backup-'));

keepRunning(APPS);
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

// A PostgreSQL client program of the stack's cluster; its output.
function pg(program, args, user = 'nano') {
    const r = spawnSync(path.join(BINDIR, program), ['-h', PG_SOCK, '-U', user, ...args],
        { encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, `${program} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
}

const superSql = (sql) => pg('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c', sql],
    'postgres').trim();

test('a dump taken while a video runs, restored: migrations, sequences, cookies, the running job and missing files', async () => {
    assert.ok(has('wan-2.5') && has('nano-banana'), 'wan-2.5 and nano-banana are in the registry');
    const u = await person('backup');

    // an image whose file the restored media folder will lack
    let r = await generate(u.jar, 'nano-banana', { prompt: `kept in the dump ${tag()}` });
    assert.equal(r.status, 202, r.text);
    const kept = await waitFor(u.jar, 'nano-banana', r.json().id);
    assert.equal(kept.status, 'succeeded', JSON.stringify(kept.error));
    const keptFile = row(kept.id).outputs[0].file;

    // a video running, its task submitted, when the dump is taken
    const before = await fakeStats();
    r = await generate(u.jar, 'wan-2.5', { prompt: `a video across a restore ${tag()}` });
    assert.equal(r.status, 202, r.text);
    const video = r.json().id;
    const task = await waitSql(`SELECT "providerTaskId" FROM "Generation" WHERE "id" = ${lit(video)}
        AND "phase" = 'submitted' AND "providerTaskId" IS NOT NULL AND "status" = 'running'`, { ms: 10000 });
    const dump = path.join(TMP, 'nano.dump');
    pg('pg_dump', ['-Fc', '-d', 'nano', '-f', dump]);
    const maxLedgerId = Number(psql(`SELECT max("id") FROM "CreditLedger"`));
    const balanceAtDump = Number(psql(`SELECT "balance" FROM "CreditAccount" WHERE "userId" = ${lit(u.id)}`));
    assert.ok(maxLedgerId > 0);

    // made after the dump: the restored database never heard of it
    r = await generate(u.jar, 'nano-banana', { prompt: `after the dump ${tag()}` });
    assert.equal(r.status, 202, r.text);
    const lost = await waitFor(u.jar, 'nano-banana', r.json().id);
    assert.equal(lost.status, 'succeeded');
    const lostOutput = row(lost.id).outputs[0].file;
    await waitFor(u.jar, 'wan-2.5', video, { ms: 60000 });
    // signed up after the dump: the restored database has no such user
    const late = await person('late');
    const leaving = await person('leaving');
    const gone = copyJar(leaving.jar);
    r = await signOut(leaving.jar);
    assert.ok(await retry(async () => (await get('/nano-banana/api/me', { headers: gone.headers() })).status === 401,
        5000), 'the signed-out cookie is refused before the restore');

    // the restore: everything that connects stopped, the dump put in a
    // new database, which takes the old one's name
    for (const app of APPS) stackctl('stop-backend', app);
    superSql('CREATE DATABASE nano_restored OWNER nano');
    pg('pg_restore', ['-d', 'nano_restored', '--exit-on-error', dump]);
    superSql(`SELECT pg_terminate_backend("pid") FROM pg_stat_activity
              WHERE "datname" = 'nano' AND "pid" <> pg_backend_pid()`);
    superSql('ALTER DATABASE nano RENAME TO nano_before_restore');
    superSql('ALTER DATABASE nano_restored RENAME TO nano');
    fs.rmSync(path.join(MEDIA_DIR, keptFile));

    // nothing to apply, no migration edited since (the runner exits 1 on
    // a checksum that differs)
    const mig = spawnSync(MIGRATE, ['--dir', path.join(ROOT, 'sql')], {
        encoding: 'utf8', timeout: 60000,
        env: { ...process.env, DATABASE_URL: `postgresql://nano@localhost/nano?host=${encodeURIComponent(PG_SOCK)}` },
    });
    assert.equal(mig.status, 0, `nano-migrate: ${mig.stdout}${mig.stderr}`);
    assert.match(mig.stdout + mig.stderr, /nothing to (apply|do)|up to date/i, mig.stdout + mig.stderr);

    for (const app of APPS) stackctl('start-backend', app);
    superSql('DROP DATABASE nano_before_restore');

    // the cookie of before the dump signs in, with the balance of the dump
    r = await credits(u.jar);
    assert.equal(r.status, 200, r.text);
    assert.equal(Number(psql(`SELECT "balance" FROM "CreditAccount" WHERE "userId" = ${lit(u.id)}`)), balanceAtDump);

    // signed up after the dump: the gateway still takes the cookie (it
    // is signed with the same key), but the platform's session and a
    // generate ask the database, which has no such account
    r = await get('/api/auth/session', { headers: late.jar.headers() });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json(), {}, 'no session for an account the database lacks');
    r = await generate(late.jar, 'nano-banana', { prompt: `a ghost ${tag()}` });
    assert.equal(r.status, 401, r.text);

    // signed out after the dump: the restored database has no record of
    // that sign-out, so the cookie works again (docs/OPERATIONS.md,
    // "Backup and restore": replace the session key after such a restore)
    assert.ok(await retry(async () => (await get('/nano-banana/api/me', { headers: gone.headers() })).status === 200,
        5000), 'the sign-out after the dump is undone by the restore');

    // the generation made after the dump is unknown; the one whose file
    // is gone keeps its record and says so on its file
    assert.equal((await generation(u.jar, 'nano-banana', lost.id)).status, 404);
    r = await generation(u.jar, 'nano-banana', kept.id);
    assert.equal(r.status, 200, r.text);
    r = await history(u.jar, 'nano-banana');
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json().items.some((g) => g.id === kept.id), 'history lists it');
    r = await get(kept.outputs[0].url, { headers: u.jar.headers() });
    assert.equal(r.status, 404, r.text);
    assert.match(r.headers['content-type'] || '', /json/);
    assert.equal(r.json().error, 'not_found');

    // the video the dump caught running: taken over after its lease,
    // polled from its stored task, never sent again, charged once
    const g = await waitFor(u.jar, 'wan-2.5', video, { ms: (LEASE_SECS + 60) * 1000 });
    assert.equal(g.status, 'succeeded', JSON.stringify(g.error));
    assert.equal(row(video).providerTaskId, task, 'the same task');
    const afterStats = await fakeStats();
    assert.equal(fakeCount(afterStats, 'wan.submit') - fakeCount(before, 'wan.submit'), 1, 'one submit');
    assert.deepEqual(ledgerOf(video).map((x) => [x.reason, Number(x.delta)]), [['debit', -price('wan-2.5')]]);

    // the ledger's sequence went on from the dump's
    r = await generate(u.jar, 'nano-banana', { prompt: `after the restore ${tag()}` });
    assert.equal(r.status, 202, r.text);
    const next = await waitFor(u.jar, 'nano-banana', r.json().id);
    assert.equal(next.status, 'succeeded', JSON.stringify(next.error));
    const ids = psql(`SELECT "id" FROM "CreditLedger" WHERE "generationId" = ${lit(next.id)}`);
    assert.ok(Number(ids) > maxLedgerId, `a new ledger id (${ids} > ${maxLedgerId})`);

    // the media sweep: the file of the generation made after the dump
    // (no row names it) goes, those of the rows the database has stay;
    // both an hour old, as tar leaves a copy's files
    const lostFile = path.join(MEDIA_DIR, lostOutput);
    const nextFile = path.join(MEDIA_DIR, row(next.id).outputs[0].file);
    assert.ok(fs.existsSync(lostFile), 'the newer media are on disk');
    const old = new Date(Date.now() - 3600 * 1000);
    for (const f of [lostFile, nextFile]) fs.utimesSync(f, old, old);
    await withBackendEnv('nano-banana', ['NANO_MEDIA_SWEEP_SECS=1', 'NANO_MEDIA_SWEEP_GRACE_SECS=60'], async () => {
        assert.ok(await retry(() => !fs.existsSync(lostFile), 15000), 'the file no row names is swept');
    });
    assert.ok(fs.existsSync(nextFile), 'a file the database names stays');
});
