// Job leases (docs/MODULES.md "Jobs"): a process renews the leases of
// what it holds and nothing else (a job whose end the database refused is
// still held, and written again); its claim never takes
// back a job it still runs, however late that job's lease; leases are
// set and judged by the database's clock, so a host whose clock runs
// ahead takes no live job from the others (docs/HOSTS.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { ORIGIN, REGISTRY, stackctl, stackPid, alive, sleep, keepRunning } from './lib.mjs';
import { fcgiGenerate } from './fcgi.mjs';
import {
    psql, lit, person, generate, waitFor, row, ledgerOf, balanceOf, ledgerSum,
    price, fakeStats, fakeCount, tag, withBackendEnv, waitSql, secondBackend,
    logsDir, ROOT, history, generation, del, cancel, outputFiles,
} from './generations.mjs';

const has = (name) => REGISTRY.some((m) => m.name === name);
const LEASE_SECS = 30;        // NANO_JOBS_LEASE_SECS
const DB_NOW = 'extract(epoch FROM clock_timestamp())::bigint';
const CLOCKSKEW = path.join(ROOT, 'build/lib/nano-clockskew.so');
// A second process whose wall clock runs secs ahead.  Under ASan
// (tests/README.md, "Under sanitizers") a preloaded library comes before
// ASan's runtime, which ASan refuses unless told that this is meant.
const skewed = (secs) => ({
    LD_PRELOAD: CLOCKSKEW,
    NANO_CLOCK_SKEW: String(secs),
    ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':'),
});

keepRunning(['nano-banana'].filter(has));

// The lines of the stack's log of app that name generation id.
const logLines = (app, id) => fs.readFileSync(`${logsDir()}/${app}.log`, 'utf8')
    .split('\n').filter((l) => l.includes(id));

// A trigger that refuses, once, the first update of "Generation" that
// matches when (SQL over OLD and NEW); a sequence counts the tries, as it
// is not rolled back with the refused statement.  Returns
// { name, refused() (waits for the refusal), drop() }.
function refuseOnce(label, what, when) {
    const t = `nano_test_${label}_${crypto.randomBytes(4).toString('hex')}`;
    psql([`CREATE SEQUENCE ${t}`,
        `CREATE FUNCTION ${t}() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF nextval('${t}') = 1 THEN
                 RAISE EXCEPTION 'the test refuses this ${what} once';
             END IF;
             RETURN NEW;
         END $$`,
        `CREATE TRIGGER ${t} BEFORE UPDATE ON "Generation" FOR EACH ROW
         WHEN (${when}) EXECUTE FUNCTION ${t}()`]);
    return {
        name: t,
        refused: () => waitSql(`SELECT 1 FROM ${t} WHERE "last_value" >= 1 AND "is_called"`, { ms: 10000 }),
        drop: () => psql([`DROP TRIGGER IF EXISTS ${t} ON "Generation"`, `DROP FUNCTION IF EXISTS ${t}()`,
            `DROP SEQUENCE IF EXISTS ${t}`]),
    };
}

test('nano-banana: a job whose end the database refused is written on the runner\'s next turn: succeeded with its image, charged once, its process alive', async () => {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    const u = await person('end-lost');
    const cost = price(m);
    const pid = stackPid(m);
    const r = await generate(u.jar, m, { prompt: `an end that is refused once ${tag()} [fake:slow=1500]` });
    assert.equal(r.status, 202, r.text);
    const { id } = r.json();
    const refusal = refuseOnce('end', 'end', `OLD."id" = ${lit(id)} AND NEW."status" <> 'running'`);
    try {
        assert.equal(row(id).status, 'running', 'still in its call when the trigger came');
        await refusal.refused();
        const refusedAt = Date.now();
        const g = await waitFor(u.jar, m, id, { ms: 10000 });
        const took = Date.now() - refusedAt;
        assert.equal(g.status, 'succeeded', JSON.stringify(g));
        assert.ok(took < LEASE_SECS * 1000 / 3, `written by its runner in ${took} ms, not ended by its lease`);
        assert.equal(g.outputs.length, 1, JSON.stringify(g.outputs));
        const files = outputFiles(id);
        assert.equal(files.length, 1);
        assert.ok(fs.existsSync(files[0]), `its image is kept: ${files[0]}`);
        assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost]],
            'debited once, no refund');
        assert.equal(balanceOf(u.id), 100 - cost);
        assert.equal(ledgerSum(u.id), balanceOf(u.id));
        assert.equal(stackPid(m), pid, 'the same process');
        assert.ok(alive(pid), 'and it lives on');
        const lines = logLines(m, id);
        assert.equal(lines.filter((l) => l.includes('cannot record its end') && l.includes('it is written once the database answers')).length, 1, lines.join('\n'));
        assert.equal(lines.filter((l) => l.includes('its end is written now that the database answers')).length, 1, lines.join('\n'));
        assert.equal(lines.filter((l) => l.includes(`job ${id} succeeded`)).length, 1, lines.join('\n'));
        await sleep(1500);
        assert.equal(ledgerOf(id).length, 1, 'and nothing after');
    } finally {
        refusal.drop();
    }
    // and the process still runs jobs
    const next = await generate(u.jar, m, { prompt: `after the refused end ${tag()}` });
    assert.equal(next.status, 202, next.text);
    assert.equal((await waitFor(u.jar, m, next.json().id)).status, 'succeeded');
});

// A POST's "submitting" mark the database refused (a restart at that
// moment): nothing was sent, so the runner keeps the job, unsent, and
// marks it again a second later.  Until 2026-12-06 it dropped the job to
// its lease: the image came 30 s late, and when the mark had committed
// with its answer lost, the job ended "interrupted", refunded, though it
// was never sent (found by a probe).
test('nano-banana: a "submitting" mark the database refused once is written again a second later: one call, the image stored, charged once, no wait for the lease', async () => {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    const u = await person('mark-lost');
    const cost = price(m);
    const before = await fakeStats();
    // every row's first mark is refused, once: the job's id is not known
    // before its admission, which its claim follows at once
    const refusal = refuseOnce('mark', 'mark', `NEW."phase" = 'submitting' AND OLD."phase" IS NULL
        AND OLD."module" = ${lit(m)}`);
    let id;
    try {
        const r = await generate(u.jar, m, { prompt: `a mark refused once ${tag()}` });
        assert.equal(r.status, 202, r.text);
        id = r.json().id;
        await refusal.refused();
        const g = await waitFor(u.jar, m, id, { ms: LEASE_SECS * 1000 / 3 });
        assert.equal(g.status, 'succeeded', JSON.stringify(g));
        assert.equal(g.outputs.length, 1);
    } finally {
        refusal.drop();
    }
    const afterStats = await fakeStats();
    assert.equal(fakeCount(afterStats, 'gemini.generateContent') - fakeCount(before, 'gemini.generateContent'), 1,
        'one provider call');
    assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost]], 'debited once, no refund');
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
    const lines = logLines(m, id);
    assert.equal(lines.filter((l) => l.includes('cannot record its call')).length, 1, lines.join('\n'));
    assert.deepEqual(lines.filter((l) => /lost before its call|stopped during a provider call/.test(l)), [], lines.join('\n'));
});

// A Wan task id the database refused to record (a restart at that
// moment): the task is taken and charged at DashScope, so the runner keeps
// the job, polls it, and records the id again with the next poll.  Until
// 2026-12-06 it dropped the job: its lease ended it "interrupted" and
// refunded 30 s later, while DashScope made the video and charged (found
// by a probe).
test('wan-2.5: a task id whose record the database refused once is recorded on the next poll: the video is stored, one submit, charged once', { skip: !has('wan-2.5') && 'wan-2.5 is not in the registry' }, async () => {
    const m = 'wan-2.5';
    const u = await person('task-lost');
    const cost = price(m);
    const before = await fakeStats();
    const r = await generate(u.jar, m, { prompt: `a task id refused once ${tag()} [fake:slow=1500]` });
    assert.equal(r.status, 202, r.text);
    const { id } = r.json();
    const refusal = refuseOnce('task', 'task id', `OLD."id" = ${lit(id)} AND NEW."providerTaskId" IS NOT NULL
        AND OLD."providerTaskId" IS NULL`);
    try {
        assert.equal(row(id).phase === 'submitted', false, 'the submit was still in flight when the trigger came');
        await refusal.refused();
        const g = await waitFor(u.jar, m, id, { ms: (LEASE_SECS + 20) * 1000 });
        assert.equal(g.status, 'succeeded', JSON.stringify(g));
        assert.equal(g.outputs.length, 1, JSON.stringify(g.outputs));
        const done = row(id);
        assert.equal(done.phase, 'submitted', 'the task id recorded after all');
        assert.ok(done.providerTaskId, 'with its task id');
        assert.ok(fs.existsSync(outputFiles(id)[0]), 'the video is stored');
        const afterStats = await fakeStats();
        assert.equal(fakeCount(afterStats, 'wan.submit') - fakeCount(before, 'wan.submit'), 1, 'one submit');
        assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost]],
            'debited once, no refund');
        assert.equal(ledgerSum(u.id), balanceOf(u.id));
        const lines = logLines(m, id);
        assert.equal(lines.filter((l) => l.includes('cannot record its task id')).length, 1, lines.join('\n'));
        assert.equal(lines.filter((l) => l.includes(`job ${id} succeeded`)).length, 1, lines.join('\n'));
    } finally {
        refusal.drop();
    }
});

test('nano-banana: a claimed job whose row cannot be read (params jansson refuses) fails unreadable, refunded once, never claimed again, its process alive; the history lists it as its GET shows it', async () => {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    const u = await person('unreadable');
    const cost = price(m);
    let id;
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        const r = await generate(u.jar, m, { prompt: `a row nobody can read ${tag()}` });
        assert.equal(r.status, 202, r.text);
        id = r.json().id;
        await sleep(300);
        assert.equal(row(id).status, 'queued');
        // jsonb keeps 1e400 as a numeric; jansson refuses it (an overflow)
        psql(`UPDATE "Generation" SET "params" = "params" || '{"x": 1e400}'::jsonb WHERE "id" = ${lit(id)}`);
    });
    // the restored backend claims it within a second or two
    const pid = stackPid(m);
    await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "status" = 'failed'`, { ms: 10000 });
    const error = JSON.parse(psql(`SELECT "error" FROM "Generation" WHERE "id" = ${lit(id)}`));
    assert.equal(error.code, 'unreadable', JSON.stringify(error));
    assert.equal(typeof error.message, 'string');
    assert.equal(psql(`SELECT "leaseOwner" IS NULL FROM "Generation" WHERE "id" = ${lit(id)}`), 't');
    assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost], ['refund', cost]],
        'debited, refunded once');
    assert.equal(balanceOf(u.id), 100);
    assert.equal(ledgerSum(u.id), 100);
    assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "userId" = ${lit(u.id)}
        AND "status" IN ('queued', 'running')`), '0', 'the in-flight slot is free');
    // the runner claims at least every second: a few claims later it is
    // still failed, refunded once, and said once
    await sleep(3000);
    assert.equal(psql(`SELECT "status" FROM "Generation" WHERE "id" = ${lit(id)}`), 'failed');
    assert.equal(ledgerOf(id).length, 2, 'and nothing after');
    const lines = logLines(m, id);
    assert.equal(lines.filter((l) => l.includes('cannot read generation')).length, 1, lines.join('\n'));
    assert.equal(stackPid(m), pid, 'the same process');
    assert.ok(alive(pid), 'and it lives on');
    const next = await generate(u.jar, m, { prompt: `after the unreadable row ${tag()}` });
    assert.equal(next.status, 202, next.text);
    assert.equal((await waitFor(u.jar, m, next.json().id)).status, 'succeeded');
    // the owner's history still answers, that row listed as its GET
    // shows it
    const h = await history(u.jar, m);
    assert.equal(h.status, 200, h.text);
    assert.deepEqual(h.json().items.map((x) => x.id), [next.json().id, id]);
    assert.deepEqual(h.json().items[1].unreadable, ['params']);
    assert.equal(h.json().items[1].params, null);
    assert.equal(h.json().items[1].error.code, 'unreadable');
    assert.equal(h.json().items[0].unreadable, undefined);
    // its own GET shows what can be read; it cannot be canceled any
    // more, and it can be deleted, the ledger keeping its rows
    const g = await generation(u.jar, m, id);
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json().status, 'failed');
    assert.equal(g.json().error.code, 'unreadable');
    assert.equal(g.json().params, null);
    assert.deepEqual(g.json().unreadable, ['params']);
    const c = await cancel(u.jar, m, id);
    assert.equal(c.status, 409, c.text);
    assert.equal(c.json().error, 'not_queued');
    const d = await del(u.jar, m, id);
    assert.equal(d.status, 200, d.text);
    assert.equal(row(id), null);
    assert.equal((await generation(u.jar, m, id)).status, 404);
    assert.equal(ledgerOf(id).length, 2, 'the ledger keeps its rows');
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});

test('nano-banana: GET of a row whose params or outputs jansson refuses answers 200 with what can be read, that column null and named, logged; 404 for another user; a queued one is canceled and refunded; one with an output is deleted with its file', async () => {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    const u = await person('unreadable-get');
    const stranger = await person('unreadable-stranger');
    const cost = price(m);
    const prompt = `a queued row nobody can read ${tag()}`;
    let id;
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        const r = await generate(u.jar, m, { prompt });
        assert.equal(r.status, 202, r.text);
        id = r.json().id;
        psql(`UPDATE "Generation" SET "params" = "params" || '{"x": 1e400}'::jsonb WHERE "id" = ${lit(id)}`);
        const g = await generation(u.jar, m, id);
        assert.equal(g.status, 200, g.text);
        const j = g.json();
        assert.equal(j.id, id);
        assert.equal(j.module, m);
        assert.equal(j.status, 'queued');
        assert.equal(j.prompt, prompt);
        assert.equal(j.cost, cost);
        assert.equal(typeof j.model, 'string');
        assert.equal(typeof j.createdAt, 'string');
        assert.deepEqual(j.outputs, []);
        assert.equal(j.error, null);
        assert.equal(j.params, null);
        assert.deepEqual(j.unreadable, ['params']);
        const lines = logLines(m, id).filter((l) => l.includes('its params cannot be read; answered without'));
        assert.equal(lines.length, 1, logLines(m, id).join('\n'));
        const s = await generation(stranger.jar, m, id);
        assert.equal(s.status, 404, s.text);
        assert.equal(s.json().error, 'not_found');
        assert.equal((await cancel(stranger.jar, m, id)).status, 404);
        assert.equal((await del(stranger.jar, m, id)).status, 404);
        // the owner cancels it: refunded once
        const c = await cancel(u.jar, m, id);
        assert.equal(c.status, 200, c.text);
        assert.deepEqual(c.json(), { id, status: 'canceled' });
        assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost], ['refund', cost]]);
        const after = (await generation(u.jar, m, id)).json();
        assert.equal(after.status, 'canceled');
        assert.equal(after.error.code, 'canceled');
        assert.equal(balanceOf(u.id), 100);
    });

    // a succeeded one whose outputs jansson refuses: outputs null, its
    // file still removed by DELETE
    const r = await generate(u.jar, m, { prompt: `outputs nobody can read ${tag()}` });
    assert.equal(r.status, 202, r.text);
    const id2 = r.json().id;
    assert.equal((await waitFor(u.jar, m, id2)).status, 'succeeded');
    const files = outputFiles(id2);
    assert.equal(files.length, 1);
    assert.ok(fs.existsSync(files[0]), 'the output is stored');
    psql(`UPDATE "Generation" SET "outputs" = "outputs" || '[{"x": 1e400}]'::jsonb WHERE "id" = ${lit(id2)}`);
    const g = await generation(u.jar, m, id2);
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json().status, 'succeeded');
    assert.equal(g.json().outputs, null);
    assert.equal(typeof g.json().params, 'object');
    assert.notEqual(g.json().params, null);
    assert.deepEqual(g.json().unreadable, ['outputs']);
    const d = await del(u.jar, m, id2);
    assert.equal(d.status, 200, d.text);
    assert.deepEqual(d.json(), { ok: true });
    assert.equal(row(id2), null);
    assert.ok(!fs.existsSync(files[0]), 'its file is removed');
    assert.deepEqual(ledgerOf(id2).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost]], 'the ledger stays');
    assert.equal(balanceOf(u.id), 100 - cost);
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});

test('nano-banana: a job whose lease lapsed while its process still runs it is not taken back by that process: one call, it succeeds, its lease renewed', async () => {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    const u = await person('own-lease');
    const cost = price(m);
    const before = await fakeStats();
    const r = await generate(u.jar, m, { prompt: `a lease that lapses mid-call ${tag()} [fake:slow=13000]` });
    assert.equal(r.status, 202, r.text);
    const { id } = r.json();
    await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "status" = 'running'
        AND "phase" = 'submitting'`, { ms: 10000 });
    const owner = row(id).leaseOwner;
    // as renewals that failed for longer than a lease would leave it
    psql(`UPDATE "Generation" SET "leaseUntil" = ${DB_NOW} - 5 WHERE "id" = ${lit(id)}`);
    // its next renewal (every 10 s) moves it on, still in the call
    await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "status" = 'running'
        AND "leaseUntil" > ${DB_NOW}`, { ms: 12000 });
    assert.equal(row(id).leaseOwner, owner, 'the same owner');

    const g = await waitFor(u.jar, m, id, { ms: 30000 });
    assert.equal(g.status, 'succeeded', JSON.stringify(g));
    assert.equal(g.outputs.length, 1);
    const afterStats = await fakeStats();
    assert.equal(fakeCount(afterStats, 'gemini.generateContent') - fakeCount(before, 'gemini.generateContent'), 1,
        'one provider call');
    assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost]], 'debited once, no refund');
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
    const lines = logLines(m, id);
    assert.deepEqual(lines.filter((l) => /taken over|stopped during a provider call|failed/.test(l)), [],
        'never run a second time');
    assert.equal(lines.filter((l) => l.includes(`job ${id} succeeded`)).length, 1, lines.join('\n'));
});

test('leases go by the database\'s clock: a process whose clock is 45 s ahead takes no live job, and the leases it sets and renews end 30 s after the database\'s now', async () => {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    const SKEW = 45;
    const u = await person('skew');
    const model = psql(`SELECT "model" FROM "ModelPrice" WHERE "module" = ${lit(m)} ORDER BY "sort", "model" LIMIT 1`);
    const second = await secondBackend(m, skewed(SKEW));
    const other = `${tag()}-other-runner`;
    const id = crypto.randomUUID();
    try {
        // its clock runs ahead: the times of its log say so
        const stamp = /^(\S+Z) /.exec(second.log().split('\n').find((l) => l.includes('jobs: runner for')))[1];
        const ahead = (Date.parse(stamp) - Date.now()) / 1000;
        assert.ok(ahead > SKEW - 15 && ahead <= SKEW + 1, `the second process's clock is ${ahead} s ahead`);

        // A job another runner holds, its lease 20 s from the database's
        // now: lapsed by the second process's clock, yet never taken.
        psql(`INSERT INTO "Generation" ("id", "userId", "module", "model", "kind", "status", "prompt", "cost",
                "phase", "leaseOwner", "leaseUntil", "startedAt")
            VALUES (${lit(id)}, ${lit(u.id)}, ${lit(m)}, ${lit(model)}, 'image', 'running', 'held elsewhere', 0,
                'submitting', ${lit(other)}, ${DB_NOW} + 20, (now() AT TIME ZONE 'utc'))`);
        await sleep(4000);
        assert.equal(row(id).leaseOwner, other, 'four claims later, still the other runner\'s');
        assert.equal(row(id).status, 'running');
        // 5 s in the past by the database's clock: taken over (and, as it
        // was in "submitting", failed as interrupted without a call)
        psql(`UPDATE "Generation" SET "leaseUntil" = ${DB_NOW} - 5 WHERE "id" = ${lit(id)}`);
        await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "status" = 'failed'`, { ms: 5000 });
        assert.equal(row(id).error.code, 'interrupted');

        // A job the second process claims (the stack's takes none) and
        // renews: its lease ends 30 s after the database's now, not 75.
        await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
            const r = await generate(u.jar, m, { prompt: `claimed by a clock that runs ahead ${tag()} [fake:slow=12000]` });
            assert.equal(r.status, 202, r.text);
            const job = r.json().id;
            const seen = new Map();
            for (;;) {
                const out = psql(`SELECT "status", "leaseOwner", "leaseUntil", "leaseUntil" - ${DB_NOW}
                    FROM "Generation" WHERE "id" = ${lit(job)}`);
                const [status, owner, until, left] = out.split('|');
                if (status !== 'running' && status !== 'queued') break;
                if (status === 'running') {
                    assert.ok(owner.includes(`:${second.pid}:`), `held by the second process (${owner})`);
                    seen.set(until, Number(left));
                }
                await sleep(250);
            }
            const g = await waitFor(u.jar, m, job);
            assert.equal(g.status, 'succeeded', JSON.stringify(g));
            const lefts = [...seen.values()];
            console.log(`leases set by a process ${SKEW} s ahead, seconds left by the database's clock: ${lefts.join(', ')}`);
            assert.ok(seen.size >= 2, `claimed, then renewed at least once: ${[...seen.keys()].join(', ')}`);
            assert.ok(lefts.every((x) => x <= LEASE_SECS && x >= LEASE_SECS - 12), `every lease within ${LEASE_SECS} s: ${lefts}`);
        });

        // A text answer's admission by that process: its lease too.
        await textAdmission(u, SKEW);
    } finally {
        psql(`DELETE FROM "Generation" WHERE "id" = ${lit(id)}`);
        await second.stop();
    }
});

// The lease a text answer's admission sets in a process whose clock runs
// skew seconds ahead: asked through FastCGI directly, as nginx would.
async function textAdmission(u, skew) {
    const m = 'qwen';
    if (!has(m)) return;
    const second = await secondBackend(m, skewed(skew));
    try {
        const prompt = `an answer admitted ahead of time ${tag()} [fake:slow=2000]`;
        const asked = fcgiGenerate(second.sock, m, { id: u.id, email: u.user.email, name: 'Skew' }, { prompt }, ORIGIN);
        const left = await waitSql(`SELECT "leaseUntil" - ${DB_NOW} FROM "Generation" WHERE "userId" = ${lit(u.id)}
            AND "module" = ${lit(m)} AND "prompt" = ${lit(prompt)} AND "status" = 'running'`, { ms: 10000 });
        const res = await asked;
        assert.equal(res.status, 200, res.text.slice(0, 300));
        console.log(`a text admission by a process ${skew} s ahead: ${left} s left by the database's clock`);
        assert.ok(Number(left) <= LEASE_SECS && Number(left) >= LEASE_SECS - 3, `its lease ends ${left} s from now`);
    } finally {
        await second.stop();
    }
}

// Found by a probe: two hosts, PostgreSQL down 40 s.  Every lease lapsed
// meanwhile, the live ones too; the host that reconnected first took
// over the other's finished jobs and failed them, their images thrown
// away.  After an outage a runner leaves other runners' lapsed leases to
// them for one lease, as they could not renew either.
test('nano-banana: after the database was out of reach, another runner\'s lapsed lease is left to it for one lease, then taken over', async (t) => {
    const m = 'nano-banana';
    assert.ok(has(m), 'nano-banana is in the registry');
    const u = await person('outage-lease');
    const cost = price(m);
    let id;
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        const r = await generate(u.jar, m, { prompt: `held elsewhere ${tag()}` });
        assert.equal(r.status, 202, r.text);
        id = r.json().id;
        // another host's, in its provider call, its lease still running
        psql(`UPDATE "Generation" SET "status" = 'running', "phase" = 'submitting',
            "leaseOwner" = 'other-host:1:0000000000000000', "leaseUntil" = ${DB_NOW} + 600,
            "startedAt" = (now() AT TIME ZONE 'utc') WHERE "id" = ${lit(id)}`);
    });
    t.after(() => {
        try {
            stackctl('start-db');
        } catch { /* running */ }
    });
    // an outage this runner's claims (each second) see
    stackctl('stop-db');
    await sleep(3000);
    stackctl('start-db');
    const back = Date.now();
    // as the outage would have left it, had it lasted a lease
    psql(`UPDATE "Generation" SET "leaseUntil" = ${DB_NOW} - 5 WHERE "id" = ${lit(id)}`);
    await sleep(10000);
    const held = row(id);
    assert.deepEqual([held.status, held.leaseOwner], ['running', 'other-host:1:0000000000000000'],
        'left to its runner 10 s after the database came back');
    // a runner that really died is taken over a lease later: failed as
    // interrupted (it was in its provider POST), refunded once
    const g = await waitFor(u.jar, m, id, { ms: 45000 });
    const waited = Date.now() - back;
    assert.equal(g.status, 'failed', JSON.stringify(g));
    assert.equal(g.error.code, 'interrupted', JSON.stringify(g.error));
    assert.ok(waited >= (LEASE_SECS - 3) * 1000, `taken over ${waited} ms after the database came back`);
    assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost], ['refund', cost]]);
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});
