// Jobs of issue 6 (docs/MODULES.md "Jobs"): a wan-2.5 video whose backend
// is killed with SIGKILL after its task was submitted is taken over once
// its lease runs out and resumed by polling (one submit, one debit, no
// refund); a job that died in "submitting" fails as interrupted, refunded
// once, never sent again; two processes of one module sharing one queue
// run every job exactly once; who wakes the runners when a job is queued,
// also after nano_db reconnected the runner's connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { STATE, REGISTRY, stackctl, stackPid, alive, retry, sleep, keepRunning } from './lib.mjs';
import { PG_SOCK, PSQL } from './accounts.mjs';
import {
    psql, lit, person, generate, waitFor, row, ledgerOf, balanceOf, ledgerSum,
    price, fakeStats, fakeCount, tag, withBackendEnv, waitSql, secondBackend,
    MEDIA_DIR, png, cancel,
} from './generations.mjs';

const has = (name) => REGISTRY.some((m) => m.name === name);
const LEASE_SECS = 30;        // NANO_JOBS_LEASE_SECS

keepRunning(['wan-2.5', 'nano-banana'].filter(has));

test('wan-2.5 survives kill -9 after its submit: taken over when the lease runs out, polled (never resubmitted), charged once', async () => {
    const m = 'wan-2.5';
    assert.ok(has(m), 'wan-2.5 is in the registry');
    const u = await person('kill9');
    const cost = price(m);
    const before = await fakeStats();
    const prompt = `a video that outlives its server ${tag()}`;
    const r = await generate(u.jar, m, { prompt });
    assert.equal(r.status, 202, r.text);
    const { id } = r.json();

    // submitted: the task id is recorded before the first poll
    const task = await waitSql(`SELECT "providerTaskId" FROM "Generation" WHERE "id" = ${lit(id)}
        AND "phase" = 'submitted' AND "providerTaskId" IS NOT NULL AND "status" = 'running'`, { ms: 10000, pred: (o) => o !== '' });
    const pid = stackPid(m);
    assert.ok(pid && alive(pid), 'the backend runs');
    const owner = row(id).leaseOwner;
    assert.ok(owner.includes(`:${pid}:`), `the job is held by the backend (lease owner ${owner}, pid ${pid})`);
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    assert.ok(await retry(() => !alive(pid), 5000, 20), 'the backend is dead');
    const held = row(id);
    assert.equal(held.status, 'running', `killed mid-task: ${held.status}`);
    assert.equal(held.phase, 'submitted');

    stackctl('start-backend', m);
    const newPid = stackPid(m);
    assert.ok(newPid && newPid !== pid && alive(newPid), 'a new backend');

    const g = await waitFor(u.jar, m, id, { ms: (LEASE_SECS + 45) * 1000 });
    const took = Date.now() - killedAt;
    console.log(`wan-2.5 job ${id}: resumed and finished ${took} ms after kill -9`);
    assert.equal(g.status, 'succeeded', `after the takeover: ${JSON.stringify(g.error)}`);
    assert.equal(g.outputs.length, 1, 'one video');
    assert.match(g.outputs[0].mime, /^video\//);
    assert.ok(fs.existsSync(path.join(MEDIA_DIR, row(id).outputs[0].file)), 'the video is stored');
    const done = row(id);
    assert.equal(done.providerTaskId, task, 'the same task');
    assert.ok(done.leaseOwner === null, 'the lease is released');

    const afterStats = await fakeStats();
    assert.equal(fakeCount(afterStats, 'wan.submit') - fakeCount(before, 'wan.submit'), 1, 'the fake saw exactly one submit');
    assert.ok(fakeCount(afterStats, 'wan.poll') - fakeCount(before, 'wan.poll') >= 1, 'it was polled');
    assert.ok(afterStats.last['wan.poll'].url.includes(task), `the new process polled the recorded task (${afterStats.last['wan.poll'].url})`);
    assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost]], 'one debit, no refund');
    assert.equal(balanceOf(u.id), 100 - cost);
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
    const log = fs.readFileSync(`${STATE}/logs/${m}.log`, 'utf8');
    assert.equal(log.split('\n').filter((l) => l.includes(`job ${id} succeeded`)).length, 1, 'one process finished it');
});

// A host (or process) of wan-2.5 without the DashScope key runs the
// offline provider.  A task recorded at DashScope by a real runner that
// died is never taken over by it: the offline provider cannot poll it and
// made an offline video of its own, recorded as the result of the task
// that DashScope went on making and charged (until 2026-12-06; found by a
// probe).  The task waits for a runner with the key, which resumes it.
test('wan-2.5: a recorded DashScope task is not taken over by an offline runner; a real one resumes it: one submit, charged once', { skip: !has('wan-2.5') && 'wan-2.5 is not in the registry' }, async () => {
    const m = 'wan-2.5';
    const u = await person('offline-takeover');
    const cost = price(m);
    const before = await fakeStats();
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        let real = await secondBackend(m, { NANO_JOBS_MAX: '4' });
        let offline = null;
        try {
            const r = await generate(u.jar, m, { prompt: `a task whose runner dies ${tag()}` });
            assert.equal(r.status, 202, r.text);
            const { id } = r.json();
            await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "status" = 'running'
                AND "phase" = 'submitted' AND "providerTaskId" IS NOT NULL`, { ms: 10000, pred: (o) => o !== '' });
            real.child.kill('SIGKILL');
            assert.ok(await retry(() => real.child.exitCode !== null || real.child.signalCode !== null, 5000, 20), 'the real runner is dead');
            await real.stop();
            real = null;
            const held = row(id);
            assert.equal(held.status, 'running', `killed mid-task: ${held.status}`);
            const owner = held.leaseOwner;

            offline = await secondBackend(m, { NANO_JOBS_MAX: '4', DASHSCOPE_API_KEY: '' });
            assert.match(offline.log(), /runner for wan-2\.5 with offline-video/);
            // its lease lapsed, as the dead runner can renew it no more
            psql(`UPDATE "Generation" SET "leaseUntil" = extract(epoch FROM clock_timestamp())::bigint - 5 WHERE "id" = ${lit(id)}`);
            await sleep(3000);
            const waiting = row(id);
            assert.equal(waiting.status, 'running', `the offline runner left it: ${JSON.stringify(waiting.error)}`);
            assert.equal(waiting.leaseOwner, owner, 'not claimed by the offline runner');
            assert.equal(offline.log().includes(id), false, offline.log().slice(-800));

            real = await secondBackend(m, { NANO_JOBS_MAX: '4' });
            const g = await waitFor(u.jar, m, id, { ms: 20000 });
            assert.equal(g.status, 'succeeded', JSON.stringify(g.error));
            assert.equal(g.outputs.length, 1);
            assert.equal(row(id).providerTaskId, held.providerTaskId, 'the same task');
            assert.ok(real.log().includes(`job ${id} succeeded (wan)`), real.log().slice(-800));
            assert.equal(offline.log().includes(id), false, 'the offline runner never touched it');
        } finally {
            if (real) await real.stop();
            if (offline) await offline.stop();
        }
    });
    const after = await fakeStats();
    assert.equal(fakeCount(after, 'wan.submit') - fakeCount(before, 'wan.submit'), 1, 'one submit');
    assert.deepEqual(ledgerOf((await psql(`SELECT "id" FROM "Generation" WHERE "userId" = ${lit(u.id)}`))).map((x) => [x.reason, Number(x.delta)]),
        [['debit', -cost]], 'debited once, no refund');
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});

// A job admitted by a process with the provider's key and run by one
// without it (a host missing its key, a rolling deploy) is made offline:
// its row and its answer say so, not the admitting process's "real".
test('nano-banana: a job an offline runner claims says offline, as its image is', { skip: !has('nano-banana') && 'nano-banana is not in the registry' }, async () => {
    const m = 'nano-banana';
    const u = await person('offline-claim');
    const before = await fakeStats();
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        const r = await generate(u.jar, m, { prompt: `admitted real, run offline ${tag()}` });
        assert.equal(r.status, 202, r.text);
        const { id } = r.json();
        assert.equal(row(id).offline, false, 'admitted where the key is');
        const offline = await secondBackend(m, { NANO_JOBS_MAX: '4', GEMINI_API_KEY: '' });
        try {
            const g = await waitFor(u.jar, m, id, { ms: 20000 });
            assert.equal(g.status, 'succeeded', JSON.stringify(g.error));
            assert.equal(g.offline, true, 'the answer says offline');
            assert.equal(row(id).offline, true, 'the row says offline');
        } finally {
            await offline.stop();
        }
    });
    const after = await fakeStats();
    assert.equal(fakeCount(after, 'gemini.generateContent') - fakeCount(before, 'gemini.generateContent'), 0,
        'the provider was never asked');
});

for (const m of ['nano-banana', 'wan-2.5'].filter(has)) {
    test(`${m}: a job whose runner died in "submitting" fails as interrupted, refunded once, never sent again`, async () => {
        const u = await person(`submitting-${m}`);
        const cost = price(m);
        const endpoint = m === 'wan-2.5' ? 'wan.submit' : 'gemini.generateContent';
        const before = await fakeStats();
        let id;
        await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
            const r = await generate(u.jar, m, { prompt: `cut short ${tag()}` });
            assert.equal(r.status, 202, r.text);
            id = r.json().id;
            await sleep(300);
            assert.equal(row(id).status, 'queued');
            // As a process that died during its provider POST leaves it.
            psql(`UPDATE "Generation" SET "status" = 'running', "phase" = 'submitting',
                "leaseOwner" = 'gone-host:1:0000000000000000',
                "leaseUntil" = extract(epoch FROM now())::bigint - 5,
                "startedAt" = (now() AT TIME ZONE 'utc') WHERE "id" = ${lit(id)}`);
        });
        // the restored backend claims the expired lease
        const g = await waitFor(u.jar, m, id, { ms: 20000 });
        assert.equal(g.status, 'failed', JSON.stringify(g));
        assert.equal(g.error.code, 'interrupted', JSON.stringify(g.error));
        assert.equal(typeof g.error.message, 'string');
        assert.deepEqual(g.outputs, []);
        assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost], ['refund', cost]], 'refunded once');
        assert.equal(balanceOf(u.id), 100);
        assert.equal(ledgerSum(u.id), 100);
        await sleep(1500);
        const afterStats = await fakeStats();
        assert.equal(fakeCount(afterStats, endpoint) - fakeCount(before, endpoint), 0, `the fake saw no ${endpoint} for it`);
        assert.equal(row(id).status, 'failed', 'and it stays failed');
        assert.equal(ledgerOf(id).length, 2);
    });
}

test('a queued job\'s row notifies only when its writer does not wake the runners itself (nano.jobs_wake)', async () => {
    const u = (await person('wake')).id;
    // a module no runner serves: nobody claims these rows
    const mod = `wake-${Date.now()}`;
    const insert = (id, status) => `INSERT INTO "Generation" ("id","userId","module","model","kind","status","cost")
        VALUES (${lit(id)}, ${lit(u)}, ${lit(mod)}, 'm', 'image', ${lit(status)}, 0)`;
    // the admission as this build's modules call it (nano_gen.c), the
    // last argument saying whether the caller wakes the runners
    const admit = (id, wakes) => `SELECT o_outcome FROM "nano_gen_admit"(${lit(id)}, ${lit(u)}, ${lit(mod)},
        NULL, 'image', 'queued', 'p', NULL, true, NULL, NULL, NULL, 16, ${wakes})`;
    const notified = new RegExp(`notification "nano_jobs" with payload "${mod}"`);
    try {
        psql([`INSERT INTO "ModelPrice" ("module","model","label","credits") VALUES (${lit(mod)}, 'm', 'M', 0)`,
            `INSERT INTO "CreditAccount" ("userId") VALUES (${lit(u)}) ON CONFLICT DO NOTHING`]);
        // a row written without a word (the tools, older builds): the
        // trigger's NOTIFY, with the module as payload
        const old = psql([`LISTEN nano_jobs`, insert(`${mod}-1`, 'queued'), 'SELECT 1']);
        assert.match(old, notified, old);
        // this build's job admission: silent, since nano_jobs_queued
        // wakes a runner after the commit; the setting is the
        // transaction's, so the next row on the same connection, written
        // without a word, notifies again
        const now = psql([`LISTEN nano_jobs`, admit(`${mod}-2`, true), 'SELECT 1']);
        assert.match(now, /^admitted$/m, now);
        assert.doesNotMatch(now, /notification "nano_jobs"/, now);
        const next = psql([`LISTEN nano_jobs`, admit(`${mod}-3`, true), insert(`${mod}-4`, 'queued'), 'SELECT 1']);
        assert.match(next, notified, next);
        // an admission whose caller does not wake: notified
        const not = psql([`LISTEN nano_jobs`, admit(`${mod}-5`, false), 'SELECT 1']);
        assert.match(not, /^admitted$/m, not);
        assert.match(not, notified, not);
        // an earlier build's module processes set it on the connection
        const session = psql([`LISTEN nano_jobs`, `SET nano.jobs_wake = 'caller'`, insert(`${mod}-6`, 'queued'), 'SELECT 1']);
        assert.doesNotMatch(session, /notification "nano_jobs"/, session);
        // and a row that is not queued never notified
        const running = psql([`LISTEN nano_jobs`, insert(`${mod}-7`, 'running'), 'SELECT 1']);
        assert.doesNotMatch(running, /notification "nano_jobs"/, running);
        assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "module" = ${lit(mod)} AND "status" = 'queued'`), '6');
    } finally {
        psql([`DELETE FROM "Generation" WHERE "module" = ${lit(mod)}`,
            `DELETE FROM "CreditLedger" WHERE "module" = ${lit(mod)}`,
            `DELETE FROM "ModelPrice" WHERE "module" = ${lit(mod)}`]);
    }
});

test('a job admitted by nano-banana wakes its runner without a NOTIFY; a row written by psql meanwhile notifies', async () => {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    const u = await person('wake-module');
    const mod = `wake-${Date.now()}`;
    const app = `nano-listen-${process.pid}`;
    // a listener that stays for 4 s; psql prints what arrived as it ends
    const listener = spawn(PSQL, ['-X', '-q', '-tA', '-h', PG_SOCK, '-U', 'nano', '-d', 'nano',
        '-c', 'LISTEN nano_jobs', '-c', 'SELECT pg_sleep(4)', '-c', 'SELECT 1'],
    { env: { ...process.env, PGAPPNAME: app }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    listener.stdout.on('data', (d) => { out += d; });
    listener.stderr.on('data', (d) => { out += d; });
    const ended = new Promise((resolve) => listener.on('exit', resolve));
    try {
        await waitSql(`SELECT 1 FROM pg_stat_activity WHERE application_name = ${lit(app)}
            AND query LIKE 'SELECT pg_sleep%' AND state = 'active'`);
        const r = await generate(u.jar, m, { prompt: `silent admission ${tag()}` });
        assert.equal(r.status, 202, r.text);
        const id = r.json().id;
        await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "status" = 'succeeded'`);
        // the control: a queued row written without a word, while the
        // listener still listens
        psql(`INSERT INTO "Generation" ("id","userId","module","model","kind","status","cost")
            VALUES (${lit(`${mod}-1`)}, ${lit(u.id)}, ${lit(mod)}, 'm', 'image', 'queued', 0)`);
        assert.equal(await ended, 0, out);
        assert.match(out, new RegExp(`notification "nano_jobs" with payload "${mod}"`), out);
        assert.doesNotMatch(out, new RegExp(`notification "nano_jobs" with payload "${m}"`), out);
    } finally {
        listener.kill();
        psql(`DELETE FROM "Generation" WHERE "module" = ${lit(mod)}`);
    }
});

test('a runner whose connection broke inside a statement LISTENs again once nano_db reconnected: jobs queued elsewhere still wake it at once', async () => {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    const u = await person('relisten');
    const second = await secondBackend(m);
    let holder;
    try {
        // the stack's process takes no jobs: each one queued through it
        // is announced with a NOTIFY, which the second process hears
        await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
            // a job of the second process's, so that it has a lease to renew
            const r = await generate(u.jar, m, { prompt: `held through a renewal ${tag()} [fake:slow=20000]` });
            assert.equal(r.status, 202, r.text);
            const long = r.json().id;
            await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(long)}
                AND "leaseOwner" LIKE ${lit(`%:${second.pid}:%`)}`);
            // its row locked for 13 s: the next renewal waits there, and
            // its connection is cut, so nano_db runs it again on a new one
            holder = spawn(PSQL, ['-X', '-q', '-tA', '-h', PG_SOCK, '-U', 'nano', '-d', 'nano', '-c',
                `BEGIN; SELECT 1 FROM "Generation" WHERE "id" = ${lit(long)} FOR UPDATE;
                 SELECT pg_sleep(13); COMMIT;`], { stdio: 'ignore' });
            const held = new Promise((resolve) => holder.on('exit', resolve));
            const waiting = await waitSql(`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'
                AND query LIKE 'UPDATE "Generation" SET "leaseUntil"%'`, { ms: 14000 });
            psql(`SELECT pg_terminate_backend(${Number(waiting)})`);
            await held;
            await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(long)} AND "leaseUntil" IS NOT NULL
                AND "leaseUntil" > extract(epoch FROM clock_timestamp())::bigint + 20`, { ms: 5000 });
            assert.match(second.log(), /database connection lost .*; reconnecting/, 'the renewal ran again');

            // Jobs queued now are claimed at once, not by the claim that
            // runs every second (0-1000 ms later).
            const waits = [];
            for (let i = 0; i < 8; i++) {
                const q = await generate(u.jar, m, { prompt: `woken after a reconnect ${tag()} #${i}` });
                assert.equal(q.status, 202, q.text);
                const id = q.json().id;
                assert.equal((await waitFor(u.jar, m, id)).status, 'succeeded');
                assert.ok(row(id).outputs.length === 1);
                waits.push(Number(psql(`SELECT round(extract(epoch FROM "startedAt" - "createdAt") * 1000)
                    FROM "Generation" WHERE "id" = ${lit(id)}`)));
                await sleep(100 + Math.floor(Math.random() * 600));
            }
            console.log(`after the reconnect, queued to claimed (ms): ${waits.join(', ')}`);
            assert.ok(waits.filter((w) => w > 300).length <= 1, `woken by the NOTIFY: ${waits.join(', ')} ms`);
            assert.equal((await waitFor(u.jar, m, long, { ms: 30000 })).status, 'succeeded');
        });
    } finally {
        holder?.kill();
        await second.stop();
    }
});

test('two processes of nano-banana share one queue: 40 jobs, each run exactly once, by both processes (the full one hands over)', async () => {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    assert.ok(process.env.NANO_TEST_PG_SOCK, 'NANO_TEST_PG_SOCK is set');
    const second = await secondBackend(m);
    try {
        // A process with room runs the jobs queued through it itself
        // (woken in-process); the stack's takes at most 4 at a time here,
        // so the rest are announced with a NOTIFY and the second process
        // claims them.
        await withBackendEnv(m, ['NANO_JOBS_MAX=4'], async () => {
            const stackLog = `${STATE}/logs/${m}.log`;
            const stackLogFrom = fs.statSync(stackLog).size;

            const before = await fakeStats();
            // 4 users x 10: under the in-flight limit of 16 per user
            const users = await Promise.all([1, 2, 3, 4].map((i) => person(`queue-${i}`)));
            // submitted at once: a burst fills the stack's process while
            // its submitters still judge its room
            const t = tag();
            const ids = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
                const u = users[i % 4];
                const r = await generate(u.jar, m, { prompt: `shared queue ${t} #${i} [fake:slow=800]` });
                assert.equal(r.status, 202, `#${i}: ${r.text}`);
                return [u, r.json().id];
            }));
            for (const [u, id] of ids) {
                const g = await waitFor(u.jar, m, id, { ms: 60000 });
                assert.equal(g.status, 'succeeded', `${id}: ${JSON.stringify(g.error)}`);
                assert.equal(g.outputs.length, 1, `${id}: one image`);
            }
            const afterStats = await fakeStats();
            assert.equal(fakeCount(afterStats, 'gemini.generateContent') - fakeCount(before, 'gemini.generateContent'), 40,
                'the fake saw exactly 40 generateContent calls');

            const finished = (text) => new Set([...text.matchAll(/job ([0-9a-f-]{36}) succeeded/g)].map((x) => x[1]));
            const all = new Set(ids.map(([, id]) => id));
            const a = new Set([...finished(fs.readFileSync(stackLog, 'utf8').slice(stackLogFrom))].filter((x) => all.has(x)));
            const b = new Set([...finished(second.log())].filter((x) => all.has(x)));
            const waited = psql(`SELECT round(max(extract(epoch FROM "startedAt" - "createdAt")) * 1000)
                                   FROM "Generation" WHERE "id" IN (${ids.map(([, id]) => lit(id)).join(', ')})`);
            console.log(`shared queue: the stack's process ran ${a.size} jobs, the second process ${b.size}; the longest wait in the queue ${waited} ms`);
            assert.ok(a.size > 0, 'the stack\'s process ran some');
            assert.ok(b.size > 0, 'the second process ran some');
            assert.deepEqual([...a].filter((x) => b.has(x)), [], 'no job ran in both');
            assert.equal(a.size + b.size, 40, 'every job ran in one of them');
            for (const [u, id] of ids) {
                assert.deepEqual(ledgerOf(id).map((x) => x.reason), ['debit'], `${id}: charged once, no refund`);
                assert.equal(ledgerSum(u.id), balanceOf(u.id));
            }
            assert.ok(!/taken over by another runner/.test(second.log()), 'no job changed hands');
        });
    } finally {
        await second.stop();
    }
});

// An edit's call body holds its whole image, base64 in JSON (14 MB for a
// 10 MiB upload), for as long as the provider takes: NANO_JOBS_MAX of
// them held gigabytes (a probe: 32 edits of 10 MiB, 500 MB of RSS).  The
// runner holds at most NANO_JOBS_BODY_MB of bodies (one may go past it);
// the other edits wait, claimed, and then run.  Here 1 MiB and bodies of
// about 0.8 MB: two calls at a time, where all four went at once.
test('edits whose bodies pass NANO_JOBS_BODY_MB wait in the runner, then run, charged once', async () => {
    const m = 'nano-banana';
    if (!has(m)) return;
    await withBackendEnv(m, ['NANO_JOBS_BODY_MB=1'], async () => {
        const u = await person('body-budget');
        // about 600 KB of PNG: a private chunk after IEND pads it
        const image = Buffer.concat([png(16, 16), Buffer.alloc(600 * 1024, 7)]);
        const t = tag();
        const ids = await Promise.all([0, 1, 2, 3].map(async (i) => {
            const r = await generate(u.jar, m, { prompt: `budget ${t} #${i} [fake:slow=4000]`, image: image.toString('base64') });
            assert.equal(r.status, 202, `#${i}: ${r.text.slice(0, 200)}`);
            return r.json().id;
        }));
        const list = ids.map(lit).join(', ');
        const sent = () => Number(psql(`SELECT count(*) FROM "Generation" WHERE "id" IN (${list}) AND "phase" = 'submitting'`));
        await waitSql(`SELECT 1 WHERE (SELECT count(*) FROM "Generation" WHERE "id" IN (${list}) AND "phase" = 'submitting') >= 2`);
        await sleep(1500);
        assert.equal(sent(), 2, 'two calls at a time: the others wait for room');
        for (const id of ids) {
            const g = await waitFor(u.jar, m, id, { ms: 60000 });
            assert.equal(g.status, 'succeeded', `${id}: ${JSON.stringify(g.error)}`);
            assert.deepEqual(ledgerOf(id).map((x) => x.reason), ['debit'], `${id}: charged once`);
        }
        assert.equal(ledgerSum(u.id), balanceOf(u.id));
    });
});

// An offline provider works one job at a time on its process's offline
// thread.  The runner claimed up to NANO_JOBS_MAX (256) at once: the rest
// waited in that process marked running, with a start time, where their
// owner's cancel was 409 not_queued (found by a probe: the eighth of
// eight offline images of 4096x4096 waited 8 s "running") and another
// process could not take them.  Now such a runner claims a job only when
// its offline thread is free: the others stay queued, and cancelable.
test('an offline runner claims one job at a time: the jobs behind it stay queued, and their owner can cancel them', { skip: !has('seedream') && 'seedream is not in the registry' }, async () => {
    const m = 'seedream';
    assert.equal(psql(`SELECT "offline" FROM "ModuleStatus" WHERE "module" = ${lit(m)}`), 't',
        `${m} runs its offline provider in the test stack`);
    const u = await person('offline-queue');
    const cost = price(m);
    const ids = [];
    for (let i = 0; i < 4; i++) {
        const r = await generate(u.jar, m, { prompt: `one at a time ${i} ${tag()}`, size: '4096x4096' });
        assert.equal(r.status, 202, r.text);
        ids.push(r.json().id);
    }
    // about a second each: the first is being made, the last waits
    await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(ids[0])} AND "status" <> 'queued'`);
    const last = ids[ids.length - 1];
    const waiting = row(last);
    assert.equal(waiting.status, 'queued', `the last waits queued: ${JSON.stringify(waiting)}`);
    assert.equal(waiting.startedAt, null, 'and has not started');
    const c = await cancel(u.jar, m, last);
    assert.equal(c.status, 200, c.text);
    assert.deepEqual(ledgerOf(last).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost], ['refund', cost]]);
    for (const id of ids.slice(0, -1)) {
        const g = await waitFor(u.jar, m, id, { ms: 60000 });
        assert.equal(g.status, 'succeeded', `${id}: ${JSON.stringify(g.error)}`);
    }
    assert.equal(row(last).status, 'canceled', 'the canceled one never ran');
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});
