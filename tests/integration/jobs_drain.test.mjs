// A module process stopped with SIGTERM (a restart, a deploy) drains its
// job runner (docs/MODULES.md "Jobs", "A restart"): it claims nothing
// more, gives back at once what it holds and has not sent (to the queue,
// or, with an asynchronous task recorded, to the next claim), and lets
// its provider calls in flight finish within NANO_JOBS_DRAIN_SECS.  A
// call still running then fails as interrupted, refunded at once.
// Before, every job held went down with the process and waited out its
// 30 s lease, and every image in a provider call failed.
//
// Each test runs the module's jobs in a second process of its own (the
// stack's takes none: NANO_JOBS_MAX=0), so that what it gives back stays
// where it was left until the test looks.  The second process reads the
// stack's env.d, so it is given its own NANO_JOBS_MAX.
const RUNS = { NANO_JOBS_MAX: '256' };
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ORIGIN, REGISTRY, sleep, retry, keepRunning } from './lib.mjs';
import { fcgiRequest, fcgiGenerate, nginxParams } from './fcgi.mjs';
import {
    psql, lit, person, generate, waitFor, row, ledgerOf, balanceOf, ledgerSum,
    price, fakeStats, fakeCount, tag, withBackendEnv, waitSql, secondBackend,
    cancel, MEDIA_DIR, filesBelow,
} from './generations.mjs';

const has = (name) => REGISTRY.some((m) => m.name === name);
const LEASE_SECS = 30;        // NANO_JOBS_LEASE_SECS

keepRunning(['wan-2.5', 'nano-banana', 'seedream'].filter(has));

// Sends SIGTERM to a second process, runs during() while it drains;
// resolves with the ms it took to exit.
async function terminate(second, during = async () => {}) {
    const exited = new Promise((resolve) => {
        if (second.child.exitCode !== null || second.child.signalCode !== null) resolve();
        else second.child.on('exit', resolve);
    });
    const from = Date.now();
    second.child.kill('SIGTERM');
    await during();
    await exited;
    return Date.now() - from;
}

const debitOnly = (id, cost) => assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]),
    [['debit', -cost]], 'one debit, no refund');

test('nano-banana stopped with SIGTERM: the image in its provider call finishes, the one waiting to retry goes back to the queue', async () => {
    const m = 'nano-banana';
    assert.ok(has(m));
    const u = await person('drain-finish');
    const cost = price(m);
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        const second = await secondBackend(m, RUNS);
        try {
            const before = await fakeStats();
            const slow = await generate(u.jar, m, { prompt: `in its call at the stop ${tag()} [fake:slow=4000]` });
            assert.equal(slow.status, 202, slow.text);
            const a = slow.json().id;
            // refused with a 30 s Retry-After: it waits in the runner
            const refused = await generate(u.jar, m, { prompt: `refused, then stopped ${tag()} [fake:429=30]` });
            assert.equal(refused.status, 202, refused.text);
            const b = refused.json().id;
            await waitSql(`SELECT 1 FROM "Generation" WHERE "id" IN (${lit(a)}, ${lit(b)})
                AND "phase" = 'submitting' HAVING count(*) = 2`, { ms: 10000 });
            await sleep(500);               // b's 429 answered; a still in its call
            assert.equal(row(b).status, 'running');
            // while it drains it still answers, and a job it admits
            // waits queued for the next process
            let c;
            const took = await terminate(second, async () => {
                await sleep(300);
                const models = await fcgiRequest(second.sock, {
                    params: nginxParams({ scriptName: `/${m}`, path: '/api/models', authOrigin: ORIGIN,
                        user: { id: u.id, email: u.me.email, name: 'drain' } }),
                });
                assert.equal(models.status, 200, `GET /api/models while draining: ${models.text}`);
                const r = await fcgiGenerate(second.sock, m, { id: u.id, email: u.me.email, name: 'drain' },
                    { prompt: `admitted while draining ${tag()}` }, ORIGIN);
                assert.equal(r.status, 202, `a generate while draining: ${r.text}`);
                c = r.json().id;
            });

            // a: answered within the drain, stored, charged once
            const ga = row(a);
            assert.equal(ga.status, 'succeeded', JSON.stringify(ga));
            assert.equal(ga.outputs.length, 1);
            debitOnly(a, cost);
            assert.ok(took >= 2000 && took < 15000, `the process waited for the call, then exited (${took} ms)`);

            // b: back in the queue as if never claimed, its provider's
            // 30 s wait kept; never sent again
            const gb = row(b);
            assert.deepEqual([gb.status, gb.phase, gb.leaseOwner, gb.startedAt],
                ['queued', null, null, null], JSON.stringify(gb));
            const left = Number(gb.leaseUntil) - Date.now() / 1000;
            assert.ok(left > 20 && left <= 31, `held back for what is left of its Retry-After: ${left} s`);
            const stats = await fakeStats();
            assert.equal(fakeCount(stats, 'gemini.generateContent') - fakeCount(before, 'gemini.generateContent'), 2,
                'the fake saw one call of each');
            debitOnly(b, cost);
            assert.match(second.log(), /jobs: stopping: 1 given back to the queue, 0 to be resumed/);

            // queued again, so its owner may cancel it, refunded; and so
            // the one admitted during the drain, which it never claimed
            assert.deepEqual([row(c).status, row(c).leaseOwner], ['queued', null]);
            for (const id of [b, c]) {
                const x = await cancel(u.jar, m, id);
                assert.equal(x.status, 200, x.text);
                assert.deepEqual(ledgerOf(id).map((y) => [y.reason, Number(y.delta)]), [['debit', -cost], ['refund', cost]]);
            }
            assert.equal(balanceOf(u.id), 100 - cost);
            assert.equal(ledgerSum(u.id), balanceOf(u.id));
        } finally {
            await second.stop();
        }
    });
});

test('nano-banana stopped with SIGTERM: a job given back while it waits out a Retry-After is not sent again before the wait ends', async () => {
    const m = 'nano-banana';
    assert.ok(has(m));
    const u = await person('drain-wait');
    const cost = price(m);
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        const first = await secondBackend(m, RUNS);
        let next, id;
        try {
            const calls = async () => fakeCount(await fakeStats(), 'gemini.generateContent');
            const r = await generate(u.jar, m, { prompt: `refused for 5 s, then stopped ${tag()} [fake:429=5]` });
            assert.equal(r.status, 202, r.text);
            id = r.json().id;
            await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "phase" = 'submitting'`, { ms: 10000 });
            await sleep(300);               // its 429 answered: it waits 5 s
            const refusedAt = Date.now();
            await terminate(first);
            assert.equal(row(id).status, 'queued');
            const sent = await calls();

            // the next process claims each second and at the NOTIFY, but
            // leaves it until the provider's 5 s are over
            next = await secondBackend(m, RUNS);
            while (Date.now() - refusedAt < 3500) {
                assert.equal(row(id).status, 'queued', 'not claimed during the wait');
                await sleep(200);
            }
            assert.equal(await calls(), sent, 'not sent again during the wait');
            // then it is: asked again (the fake refuses it again)
            const again = await retry(async () => (await calls()) > sent, 10000, 100);
            assert.ok(again, 'sent again once the wait was over');
            // timed by the fake's arrivals: the refused call and this
            // one (the test's own clock sees the refusal late on a busy
            // host, and once read 4494 ms for a wait that was kept)
            const times = (await fakeStats()).times['gemini.generateContent'];
            const gap = times.at(-1) - times.at(-2);
            assert.ok(gap >= 4950, `not before the wait ended (${gap} ms after the refused call)`);
        } finally {
            await first.stop();
            if (next) await next.stop();
        }
        // given back again or failed: refunded either way, once
        const g = row(id);
        assert.ok(['queued', 'failed'].includes(g.status), JSON.stringify(g));
        if (g.status === 'queued') assert.equal((await cancel(u.jar, m, id)).status, 200);
        assert.deepEqual(ledgerOf(id).map((y) => [y.reason, Number(y.delta)]), [['debit', -cost], ['refund', cost]]);
        assert.equal(balanceOf(u.id), 100);
        assert.equal(ledgerSum(u.id), balanceOf(u.id));
    });
});

test('nano-banana stopped with SIGTERM: a call that outlasts NANO_JOBS_DRAIN_SECS fails as interrupted, refunded at once', async () => {
    const m = 'nano-banana';
    const u = await person('drain-deadline');
    const cost = price(m);
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        const second = await secondBackend(m, { ...RUNS, NANO_JOBS_DRAIN_SECS: '1' });
        try {
            const r = await generate(u.jar, m, { prompt: `longer than the drain ${tag()} [fake:slow=15000]` });
            assert.equal(r.status, 202, r.text);
            const id = r.json().id;
            await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "phase" = 'submitting'`, { ms: 10000 });
            await sleep(300);
            const took = await terminate(second);
            assert.ok(took < 5000, `the process exited a drain after the signal (${took} ms)`);
            const g = row(id);
            assert.equal(g.status, 'failed', JSON.stringify(g));
            assert.equal(g.error.code, 'interrupted', JSON.stringify(g.error));
            assert.equal(g.leaseOwner, null);
            assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost], ['refund', cost]],
                'refunded once, before the process exited');
            assert.equal(balanceOf(u.id), 100);
            assert.match(second.log(), new RegExp(`job ${id}: still in its provider call when the runner stopped`));
        } finally {
            await second.stop();
        }
    });
});

test('wan-2.5 stopped with SIGTERM after its submit: its lease ends at once and the next process resumes it by polling', async () => {
    const m = 'wan-2.5';
    assert.ok(has(m));
    const u = await person('drain-resume');
    const cost = price(m);
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        const before = await fakeStats();
        const first = await secondBackend(m, RUNS);
        let id, task;
        try {
            const r = await generate(u.jar, m, { prompt: `a video across a restart ${tag()}` });
            assert.equal(r.status, 202, r.text);
            id = r.json().id;
            task = await waitSql(`SELECT "providerTaskId" FROM "Generation" WHERE "id" = ${lit(id)}
                AND "phase" = 'submitted' AND "providerTaskId" IS NOT NULL`, { ms: 10000 });
            const took = await terminate(first);
            assert.ok(took < 8000, `no wait for a task the provider runs (${took} ms)`);
            const held = row(id);
            assert.equal(held.status, 'running', JSON.stringify(held));
            assert.equal(held.phase, 'submitted');
            const left = Number(psql(`SELECT "leaseUntil" - extract(epoch FROM clock_timestamp())::bigint
                FROM "Generation" WHERE "id" = ${lit(id)}`));
            assert.ok(left <= 0, `its lease ended (${left} s left)`);
            assert.match(first.log(), /jobs: stopping: 0 given back to the queue, 1 to be resumed/);
        } finally {
            await first.stop();
        }
        const from = Date.now();
        const next = await secondBackend(m, RUNS);
        try {
            const g = await waitFor(u.jar, m, id, { ms: 30000 });
            const waited = Date.now() - from;
            assert.equal(g.status, 'succeeded', JSON.stringify(g));
            assert.ok(waited < LEASE_SECS * 1000, `resumed without waiting out a lease (${waited} ms)`);
            assert.equal(row(id).providerTaskId, task, 'the same task');
            const stats = await fakeStats();
            assert.equal(fakeCount(stats, 'wan.submit') - fakeCount(before, 'wan.submit'), 1, 'one submit');
            debitOnly(id, cost);
            assert.equal(ledgerSum(u.id), balanceOf(u.id));
        } finally {
            await next.stop();
        }
    });
});

// The offline thread cannot be interrupted: an image it is making when
// the drain ends (NANO_JOBS_DRAIN_SECS=0 here) is finished after the
// runner stopped, and nobody records it; its lease's next runner makes
// it again.  Before, the first image's file stayed in the generation's
// folder beside the one the row names (found by a probe), until the
// hourly media sweep.  Now the process removes what it made unrecorded.
test('seedream offline stopped with SIGTERM: an image its offline thread finishes after the drain leaves no file', { skip: !has('seedream') && 'seedream is not in the registry' }, async () => {
    const m = 'seedream';
    assert.equal(psql(`SELECT "offline" FROM "ModuleStatus" WHERE "module" = ${lit(m)}`), 't',
        `${m} runs its offline provider in the test stack`);
    const u = await person('drain-offline');
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        // the stop must find the image in the making (its 600 ms wait
        // done, not yet stored): a few tries on a machine too fast for it
        let caught = null;
        for (let i = 0; i < 5 && !caught; i++) {
            const second = await secondBackend(m, { ...RUNS, NANO_JOBS_DRAIN_SECS: '0' });
            try {
                const r = await generate(u.jar, m, { prompt: `made after the drain ${tag()}`, size: '4096x4096' });
                assert.equal(r.status, 202, r.text);
                const id = r.json().id;
                await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "status" = 'running'`, { ms: 10000 });
                await sleep(650 + 100 * i);
                await terminate(second);
                const g = row(id);
                if (g.status === 'running') caught = g;
                else if (g.status === 'queued') await cancel(u.jar, m, id);
            } finally {
                await second.stop();
            }
        }
        assert.ok(caught, 'one stop found its image in the making');
        assert.equal(caught.phase, null);
        // left to its lease, and no file that no row names
        assert.deepEqual(filesBelow(path.join(MEDIA_DIR, m, u.id, caught.id)), []);
    });
});
