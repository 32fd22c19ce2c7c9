// An admission that PostgreSQL holds past NANO_DB_TIMEOUT_MS (here: the
// user's balance row locked by another session) is answered 503 and its
// connection dropped (nano_db's db_await).  The server must then not run
// it on to its COMMIT once the lock is let go: the caller was told
// nothing happened.  nano_db has the server check each second whether its
// client is still there (client_connection_check_interval), so the
// statement ends with its session: no debit, no row, no job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { REGISTRY, sleep } from './lib.mjs';
import { PG_SOCK } from './accounts.mjs';
import {
    person, generate, tag, balanceOf, ledgerRows, ledgerSum, psql, lit,
    withBackendEnv, waitFor, waitSql, fakeStats, fakeCount, lockBalance,
} from './generations.mjs';

const TIMEOUT_MS = 600;

for (const [m, ok] of [['nano-banana', 202], ['openai', 200]].filter(([n]) => REGISTRY.some((r) => r.name === n))) {
    test(`${m}: an admission held past NANO_DB_TIMEOUT_MS answers 503, and does not commit once what held it lets go`, async () => {
        const u = await person(`admit-timeout-${m}`);
        const warm = await generate(u.jar, m, { prompt: `warm ${tag()}` });
        assert.equal(warm.status, ok, warm.text);
        if (ok === 202) await waitFor(u.jar, m, warm.json().id);
        const balance = balanceOf(u.id);
        const ledger = ledgerRows(u.id).length;

        await withBackendEnv(m, [`NANO_DB_TIMEOUT_MS=${TIMEOUT_MS}`], async () => {
            // the restarted process's pool opens its connection first
            const again = await generate(u.jar, m, { prompt: `warm again ${tag()}` });
            assert.equal(again.status, ok, again.text);
            if (ok === 202) await waitFor(u.jar, m, again.json().id);
            const before = balanceOf(u.id);

            const prompt = `held past the timeout ${tag()}`;
            const release = await lockBalance(u.id);
            let r;
            try {
                r = await generate(u.jar, m, { prompt });
                // what held the statement lasts well past the server's
                // one-second check
                await sleep(2500);
            } finally {
                await release();
            }
            assert.equal(r.status, 503, r.text);
            assert.equal(r.json().error, 'database_unavailable');
            await sleep(1500);
            assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "prompt" = ${lit(prompt)}`), '0',
                'no generation row: the admission did not commit after its 503');
            assert.equal(balanceOf(u.id), before, 'nothing debited');
            assert.equal(ledgerSum(u.id), balanceOf(u.id));
            assert.equal(psql(`SELECT count(*) FROM pg_stat_activity
                WHERE query LIKE '%nano_gen_admit%' AND state = 'active' AND wait_event_type = 'Lock'`), '0',
            'no backend still waits with the admission');

            const after = await generate(u.jar, m, { prompt: `after ${tag()}` });
            assert.equal(after.status, ok, `the module works on: ${after.text}`);
            if (ok === 202) await waitFor(u.jar, m, after.json().id);
        });
        assert.ok(ledgerRows(u.id).length > ledger);
        assert.ok(balanceOf(u.id) < balance);
    });
}

// The server itself stopped (SIGSTOP, as a frozen host or VM): the
// statement waits unread in its socket, and no check of the client can
// stop it once the server runs on, as it takes microseconds then.  The
// job it commits after the 503 is canceled and refunded by the module's
// runner, and never run (found by a probe: charged, and run).
function postgresPids() {
    // the socket's lock file names the postmaster, as postmaster.pid does
    const lock = fs.readdirSync(PG_SOCK).find((f) => /^\.s\.PGSQL\.\d+\.lock$/.test(f));
    assert.ok(lock, `the server's socket lock in ${PG_SOCK}`);
    const main = Number(fs.readFileSync(path.join(PG_SOCK, lock), 'utf8').split('\n')[0]);
    const children = execFileSync('pgrep', ['-P', String(main)], { encoding: 'utf8' })
        .split('\n').filter(Boolean).map(Number);
    return [main, ...children];
}

if (REGISTRY.some((r) => r.name === 'nano-banana')) {
    test('nano-banana: an admission sent to a stopped server answers 503; the job it commits once the server runs on is canceled and refunded, never run', async () => {
        const m = 'nano-banana';
        const u = await person('admit-frozen');
        await withBackendEnv(m, [`NANO_DB_TIMEOUT_MS=${TIMEOUT_MS}`], async () => {
            const warm = await generate(u.jar, m, { prompt: `warm ${tag()}` });
            assert.equal(warm.status, 202, warm.text);
            await waitFor(u.jar, m, warm.json().id);
            const before = balanceOf(u.id);
            const calls = fakeCount(await fakeStats(), 'gemini.generateContent');

            const prompt = `sent to a stopped server ${tag()}`;
            const pids = postgresPids();
            for (const pid of pids) process.kill(pid, 'SIGSTOP');
            let r;
            try {
                r = await generate(u.jar, m, { prompt });
            } finally {
                for (const pid of pids) process.kill(pid, 'SIGCONT');
            }
            assert.equal(r.status, 503, r.text);
            assert.equal(r.json().error, 'database_unavailable');
            // the runner looks each second once the database answers;
            // its own claim that timed out in the freeze may run late
            // and hold the row as running (no phase) for a moment before
            // the look cancels it: a CI run read it then (48 ms running)
            const row = await waitSql(`SELECT "status" FROM "Generation" WHERE "prompt" = ${lit(prompt)}
                AND "status" NOT IN ('queued', 'running')`, { ms: 8000 }).catch(() => null);
            const status = psql(`SELECT "status" FROM "Generation" WHERE "prompt" = ${lit(prompt)}`);
            assert.ok(status === '' || status === 'canceled', `no job runs for a 503: ${status} ${row}`);
            assert.equal(balanceOf(u.id), before, 'nothing kept: no debit, or its refund');
            assert.equal(ledgerSum(u.id), balanceOf(u.id));
            await sleep(1500);
            assert.equal(fakeCount(await fakeStats(), 'gemini.generateContent'), calls, 'the provider was never asked');
            if (status === '') console.log('the admission did not commit after its 503 (nothing to cancel)');
        });
    });
}
