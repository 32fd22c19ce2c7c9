// A job's admission whose commit's answer was lost (docs/MODULES.md,
// Credits): nano_db runs a statement once more on a new connection when
// a connection it had open dies during the call, and that second run of
// "nano_gen_admit" meets the first one's committed row.  It must answer
// 202 with that row, charged once, not a 500 (the debit's unique
// violation) or a 402 (the credits it took itself).
//
// The window is made with PostgreSQL's own: a commit that waits for a
// synchronous standby that never comes (synchronous_standby_names names
// nobody, and a trigger turns synchronous_commit on for the marked rows
// only; the test cluster runs with it off) is committed locally already;
// terminating that backend then ends the connection without an answer
// ("The transaction has already committed locally").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { REGISTRY, retry } from './lib.mjs';
import { PG_SOCK, PSQL } from './accounts.mjs';
import {
    psql, lit, person, generate, waitFor, row, ledgerOf, balanceOf,
    ledgerSum, price, setBalance, tag, waitSql, logsDir, endGate,
} from './generations.mjs';

const M = 'nano-banana';
const MARK = `admit-answer-lost-${tag()}`;
const PROBE = 'nano_test_syncrep_probe';

// ALTER SYSTEM needs the superuser.
function asPostgres(sql) {
    const r = spawnSync(PSQL, ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', PG_SOCK,
        '-U', 'postgres', '-d', 'nano', '-c', sql], { encoding: 'utf8', timeout: 30000 });
    if (r.status !== 0) throw new Error(`psql ${sql}: ${r.stderr || r.error}`);
    return r.stdout.trim();
}

before(async () => {
    psql(`CREATE FUNCTION "nano_test_sync_commit"() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM set_config('synchronous_commit', 'on', true);
            RETURN NULL;
        END $$;
        CREATE TRIGGER "nano_test_sync_commit"
            AFTER INSERT ON "Generation" FOR EACH ROW
            WHEN (NEW."prompt" LIKE ${lit(`%${MARK}%`)})
            EXECUTE FUNCTION "nano_test_sync_commit"();`);
    asPostgres(`ALTER SYSTEM SET synchronous_standby_names = 'nano_test_nobody'`);
    asPostgres('SELECT pg_reload_conf()');
    // The checkpointer takes the standby list in on the reload: a probe
    // commit that waits shows it has (psql is killed, its backend ended).
    // Only a commit that wrote WAL waits: a temporary table's catalog rows.
    assert.ok(await retry(() => {
        const r = spawnSync(PSQL, ['-X', '-q', '-h', PG_SOCK, '-U', 'nano', '-d', 'nano',
            '-c', 'SET synchronous_commit = on', '-c', 'CREATE TEMP TABLE probe ()'],
        { env: { ...process.env, PGAPPNAME: PROBE }, timeout: 500 });
        return r.status === null;
    }, 10000, 0), 'a commit waits for the standby');
    psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${lit(PROBE)}`);
});

after(() => {
    asPostgres('ALTER SYSTEM RESET synchronous_standby_names');
    asPostgres('SELECT pg_reload_conf()');
    psql(`DROP TRIGGER IF EXISTS "nano_test_sync_commit" ON "Generation";
        DROP FUNCTION IF EXISTS "nano_test_sync_commit"();`);
});

// POSTs a marked job for u, cuts its admission's connection once its
// commit waits, and returns the answer.
async function admitAndCut(u, prompt) {
    const pending = generate(u.jar, M, { prompt });
    const pid = await waitSql(`SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'
        AND query LIKE '%nano_gen_admit%'`, { ms: 15000 });
    psql(`SELECT pg_terminate_backend(${Number(pid)})`);
    return pending;
}

const logOf = () => fs.readFileSync(`${logsDir()}/${M}.log`, 'utf8');

for (const [what, credits, refusedAs] of [
    ['the second run meets the debit (unique violation)', 3, '500'],
    ['the second run finds the credits already taken', 1, '402'],
]) {
    test(`${M}: an admission committed before its connection died is answered 202 with its row, charged once: ${what} (else ${refusedAs})`, async () => {
        assert.ok(REGISTRY.some((m) => m.name === M), `${M} is in the registry`);
        const u = await person('admitlost');
        const cost = price(M);
        // a first job, so that the pool's connection is open before the
        // call: only then does nano_db run it again
        const first = await generate(u.jar, M, { prompt: `warm ${tag()}` });
        assert.equal(first.status, 202, first.text);
        assert.equal((await waitFor(u.jar, M, first.json().id)).status, 'succeeded');
        setBalance(u.id, credits * cost);

        const prompt = `${MARK} ${tag()}`;
        const r = await admitAndCut(u, prompt);
        assert.equal(r.status, 202, r.text);
        const { id, cost: charged } = r.json();
        assert.equal(charged, cost);
        const g = row(id);
        assert.ok(g, 'the row is there');
        assert.equal(g.userId, u.id);
        assert.equal(g.prompt, prompt);
        assert.equal(Number(psql(`SELECT count(*) FROM "Generation" WHERE "prompt" = ${lit(prompt)}`)), 1);
        assert.deepEqual(ledgerOf(id).map((l) => [l.reason, l.delta]), [['debit', -cost]]);
        assert.equal(balanceOf(u.id), (credits - 1) * cost);
        assert.equal(ledgerSum(u.id), balanceOf(u.id));
        assert.match(logOf(), /database connection lost .*; reconnecting/);
        assert.match(logOf(), new RegExp(`generation ${id}: admitted before its answer was lost`));

        // the caller woke the runner: the job runs, once
        assert.equal((await waitFor(u.jar, M, id)).status, 'succeeded');
        assert.deepEqual(ledgerOf(id).map((l) => l.reason), ['debit']);
    });
}

// The case nano_db does not run again by itself: the connection that
// died after the commit was opened for that very call (the pool's had
// died first).  nano_gen_create runs the admission once more: its id
// (or its Idempotency-Key, sql/014) finds the first run's row, so the
// answer is 202, charged once, with a key or without.
async function freshConnectionCut(u, prompt, headers) {
    // end every idle connection of the backends: the module finds its
    // old one closed and opens a new one for the call
    psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = 'nano' AND state = 'idle'`);
    const pending = generate(u.jar, M, { prompt }, headers);
    const pid = await waitSql(`SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'
        AND query LIKE '%nano_gen_admit%'`, { ms: 15000 });
    psql(`SELECT pg_terminate_backend(${Number(pid)})`);
    return pending;
}

test(`${M}: an admission whose new connection died after its commit is run again: 202 charged once, without a key and with one`, async () => {
    const u = await person('admitlost-fresh');
    const cost = price(M);
    const warm = await generate(u.jar, M, { prompt: `warm ${tag()}` });
    assert.equal(warm.status, 202, warm.text);
    assert.equal((await waitFor(u.jar, M, warm.json().id)).status, 'succeeded');
    setBalance(u.id, 10 * cost);

    const key = `lost-${tag()}`;
    let left = 10;
    for (const [what, headers] of [['without a key', {}], ['with a key', { 'Idempotency-Key': key }]]) {
        const prompt = `${MARK} ${what} ${tag()}`;
        const r = await freshConnectionCut(u, prompt, headers);
        assert.equal(r.status, 202, `${what}: ${r.text}`);
        assert.equal(r.headers['idempotent-replayed'], undefined, 'to the client it is the first answer');
        const { id } = r.json();
        left -= 1;
        assert.equal(row(id).prompt, prompt);
        assert.equal(Number(psql(`SELECT count(*) FROM "Generation" WHERE "prompt" = ${lit(prompt)}`)), 1, what);
        assert.deepEqual(ledgerOf(id).map((l) => [l.reason, l.delta]), [['debit', -cost]], what);
        assert.equal(balanceOf(u.id), left * cost, what);
        assert.equal(ledgerSum(u.id), balanceOf(u.id));
        assert.match(logOf(), new RegExp(`generation ${id}: the admission's connection was lost; running it again`));
        assert.match(logOf(), new RegExp(`generation ${id}: admitted before its answer was lost`));
        assert.equal((await waitFor(u.jar, M, id)).status, 'succeeded');
        if (headers['Idempotency-Key']) {
            // and the client's own retry with the key is a replay of it
            const again = await generate(u.jar, M, { prompt }, headers);
            assert.equal(again.status, 202, again.text);
            assert.equal(again.json().id, id);
            assert.equal(again.headers['idempotent-replayed'], 'true');
            assert.equal(balanceOf(u.id), left * cost);
        }
    }
});

// POSTs a marked text prompt for u to module T, cuts the admission's
// connection once its commit waits, and returns the answer.
async function answerAndCut(u, T, prompt) {
    const pending = generate(u.jar, T, { prompt });
    const pid = await waitSql(`SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'
        AND query LIKE '%nano_gen_admit%'`, { ms: 15000 });
    psql(`SELECT pg_terminate_backend(${Number(pid)})`);
    return pending;
}

// A text answer's debit commits while the provider is asked
// (docs/MODULES.md, Credits): when its connection dies after the commit
// was sent, the module cannot know whether it committed and answers 503.
// A row that did commit is failed and refunded at once, on another
// connection, rather than holding one of the user's in-flight places
// until its lease runs out (30 s).
for (const T of ['openai', 'qwen'].filter((m) => REGISTRY.some((r) => r.name === m))) {
    test(`${T}: a text answer whose debit's commit was lost with its connection: 503, its row failed and refunded at once`, async () => {
        const u = await person(`textlost-${T}`);
        const warm = await generate(u.jar, T, { prompt: `warm ${tag()}` });
        assert.equal(warm.status, 200, warm.text);
        const balance = balanceOf(u.id);

        const prompt = `${MARK} ${tag()}`;
        const r = await answerAndCut(u, T, prompt);
        assert.equal(r.status, 503, r.text);
        assert.equal(r.json().error, 'database_unavailable');
        assert.equal(r.json().text, undefined, 'no answer text');

        const g = JSON.parse(psql(`SELECT row_to_json(g) FROM "Generation" g WHERE "prompt" = ${lit(prompt)}`));
        assert.equal(g.status, 'failed', 'failed now, not running until its lease runs out');
        assert.equal(g.error.code, 'database_unavailable');
        assert.deepEqual(ledgerOf(g.id).map((l) => l.reason), ['debit', 'refund']);
        assert.equal(balanceOf(u.id), balance, 'nothing charged');
        assert.equal(ledgerSum(u.id), balanceOf(u.id));
        assert.match(fs.readFileSync(`${logsDir()}/${T}.log`, 'utf8'),
            new RegExp(`generation ${g.id}: its debit's commit was lost with its connection; failed and refunded`));
    });
}

// When the database does not answer that immediate end (as during a
// restart; here a trigger refuses the row's end while a flag is set), the
// runner fails and refunds the row once it answers again, long before its
// lease (30 s) would.
const BLOCK = `end-blocked-${tag()}`;
for (const T of ['qwen', 'openai'].filter((m) => REGISTRY.some((r) => r.name === m)).slice(0, 1)) {
    test(`${T}: when that end cannot be written at once, the runner writes it once the database answers again`, async () => {
        const gate = endGate('nano_test_block_end', BLOCK, "= 'failed'", 'the end is blocked (test)');
        gate.close();
        try {
            const u = await person(`textlost-later-${T}`);
            const warm = await generate(u.jar, T, { prompt: `warm ${tag()}` });
            assert.equal(warm.status, 200, warm.text);
            const balance = balanceOf(u.id);

            const prompt = `${MARK} ${BLOCK} ${tag()}`;
            const r = await answerAndCut(u, T, prompt);
            assert.equal(r.status, 503, r.text);
            const id = psql(`SELECT "id" FROM "Generation" WHERE "prompt" = ${lit(prompt)}`);
            assert.equal(row(id).status, 'running', 'the immediate end was refused');

            gate.open();
            await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "status" = 'failed'`,
                { ms: 8000 });
            assert.deepEqual(ledgerOf(id).map((l) => l.reason), ['debit', 'refund']);
            assert.equal(balanceOf(u.id), balance, 'nothing charged');
            assert.equal(ledgerSum(u.id), balanceOf(u.id));
            assert.match(fs.readFileSync(`${logsDir()}/${T}.log`, 'utf8'),
                new RegExp(`generation ${id}: its debit's commit was lost with its connection; failed and refunded`));
        } finally {
            gate.drop();
        }
    });
}
