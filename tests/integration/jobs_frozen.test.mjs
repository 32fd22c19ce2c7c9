// A frozen host (SIGSTOP: a VM paused, a process stopped) whose lease
// runs out while it is in a provider call: another host's runner takes
// the job over, fails it as interrupted and refunds it (never calls the
// provider again); when the frozen host wakes with the provider's answer
// it records nothing and keeps no file (docs/HOSTS.md, "Jobs once").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REGISTRY, sleep, keepRunning, retry } from './lib.mjs';
import {
    psql, lit, person, generate, waitFor, row, ledgerOf, balanceOf, ledgerSum,
    price, fakeStats, fakeCount, tag, withBackendEnv, waitSql, secondBackend, MEDIA_DIR,
} from './generations.mjs';

const has = (name) => REGISTRY.some((m) => m.name === name);
const DB_NOW = 'extract(epoch FROM clock_timestamp())::bigint';

keepRunning(['nano-banana'].filter(has));

test('nano-banana: a runner frozen in its provider call past its lease is taken over (failed, refunded once); woken, it records nothing and leaves no file', { skip: !has('nano-banana') && 'nano-banana is not in the registry' }, async () => {
    const m = 'nano-banana';
    const u = await person('frozen');
    const cost = price(m);
    const t = tag();
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        const a = await secondBackend(m, { NANO_JOBS_MAX: '4' });
        let b;
        try {
            const before = await fakeStats();
            const r = await generate(u.jar, m, { prompt: `frozen ${t} [fake:slow=6000]` });
            assert.equal(r.status, 202, r.text);
            const id = r.json().id;
            await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "phase" = 'submitting'`, { ms: 10000 });
            const holder = row(id).leaseOwner;
            assert.ok(holder.includes(`:${a.pid}:`), `the second process holds it: ${holder}`);
            process.kill(a.pid, 'SIGSTOP');
            try {
                // as a lease that ran out while it was frozen
                psql(`UPDATE "Generation" SET "leaseUntil" = ${DB_NOW} - 5 WHERE "id" = ${lit(id)}`);
                b = await secondBackend(m, { NANO_JOBS_MAX: '4' });
                const g = await waitFor(u.jar, m, id, { ms: 15000 });
                assert.equal(g.status, 'failed', JSON.stringify(g));
                assert.equal(g.error.code, 'interrupted', JSON.stringify(g.error));
                await sleep(6500);            // the provider's answer is ready
            } finally {
                process.kill(a.pid, 'SIGCONT');
            }
            await sleep(4000);
            const end = row(id);
            assert.equal(end.status, 'failed', JSON.stringify(end));
            assert.deepEqual(end.outputs ?? [], []);
            assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost], ['refund', cost]]);
            assert.equal(ledgerSum(u.id), balanceOf(u.id));
            const after = await fakeStats();
            assert.equal(fakeCount(after, 'gemini.generateContent') - fakeCount(before, 'gemini.generateContent'), 1, JSON.stringify(after.requests));
            const dir = path.join(MEDIA_DIR, m, u.id, id);
            const left = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
            assert.deepEqual(left, [], `files left in ${dir}`);
            assert.match(a.log(), new RegExp(`job ${id}: its end was not recorded`), 'the woken runner gave it up');
            assert.equal(a.child.exitCode, null, 'the woken process lives');
        } finally {
            await a.stop();
            await b?.stop();
        }
    });
});

test('wan-2.5: a runner frozen while it polls its task is taken over (polled, never resubmitted) and the video stored once; woken, it records nothing and removes only what it wrote', { skip: !has('wan-2.5') && 'wan-2.5 is not in the registry' }, async () => {
    const m = 'wan-2.5';
    const u = await person('frozen-wan');
    const cost = price(m);
    await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
        const a = await secondBackend(m, { NANO_JOBS_MAX: '4' });
        let b;
        try {
            const before = await fakeStats();
            const r = await generate(u.jar, m, { prompt: `frozen video ${tag()}` });
            assert.equal(r.status, 202, r.text);
            const id = r.json().id;
            await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "phase" = 'submitted'
                AND "providerTaskId" IS NOT NULL`, { ms: 10000 });
            assert.ok(row(id).leaseOwner.includes(`:${a.pid}:`), `the second process holds it: ${row(id).leaseOwner}`);
            process.kill(a.pid, 'SIGSTOP');
            let g;
            try {
                psql(`UPDATE "Generation" SET "leaseUntil" = ${DB_NOW} - 5 WHERE "id" = ${lit(id)}`);
                b = await secondBackend(m, { NANO_JOBS_MAX: '4' });
                g = await waitFor(u.jar, m, id, { ms: 30000 });
                assert.equal(g.status, 'succeeded', JSON.stringify(g));
                assert.ok(row(id).startedAt, 'started');
            } finally {
                process.kill(a.pid, 'SIGCONT');
            }
            // woken: its poll answers, it downloads, its end is refused
            assert.ok(await retry(() => /its end was not recorded|taken over/.test(a.log().split('\n').filter((l) => l.includes(id)).join('\n')), 20000, 200),
                `the woken runner gave the job up: ${a.log().slice(-1500)}`);
            const end = row(id);
            assert.equal(end.status, 'succeeded');
            assert.equal(end.outputs.length, 1, JSON.stringify(end.outputs));
            const dir = path.join(MEDIA_DIR, m, u.id, id);
            assert.deepEqual(fs.readdirSync(dir), [path.basename(end.outputs[0].file)], `only the recorded video in ${dir}`);
            assert.deepEqual(ledgerOf(id).map((x) => [x.reason, Number(x.delta)]), [['debit', -cost]]);
            assert.equal(ledgerSum(u.id), balanceOf(u.id));
            const after = await fakeStats();
            assert.equal(fakeCount(after, 'wan.submit') - fakeCount(before, 'wan.submit'), 1, 'one submit');
            assert.equal(a.child.exitCode, null, 'the woken process lives');
        } finally {
            await a.stop();
            await b?.stop();
        }
    });
});
