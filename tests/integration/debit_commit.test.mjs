// The text path's debit commits while the provider is asked, and the
// whole answer's record is written behind the reply (docs/MODULES.md,
// "Chat overhead"): a debit whose commit fails gives the user nothing of
// the answer and costs nothing; a record written behind the reply is
// there when the client asks at once.
//
// A record is held with a trigger that waits in its UPDATE for an
// advisory lock the test holds: the owner's next read (the generation,
// the history, a delete, the next turn of the conversation) waits for it
// in the module process instead of finding the row still running
// (nano_module_behind_wait).
//
// The commit is made to fail with a deferred constraint trigger: it runs
// at COMMIT, after the admission's result already reached the module,
// which is exactly the window the overlap opens.  The admission's rows,
// written behind its answer (sql/018_admit_split.sql), are made to fail
// with a trigger on the generation's INSERT.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { REGISTRY, sleep } from './lib.mjs';
import {
    person, generate, generation, stream, tag, price, balanceOf, ledgerSum,
    ledgerRows, psql, lit, history, del, fakeStats, row, holdInPsql,
} from './generations.mjs';

const has = (name) => REGISTRY.some((m) => m.name === name);
// qwen talks to the fake DashScope; openai runs offline in the test stack
const MODULES = ['qwen', 'openai'].filter(has);
const MARK = `fail-at-commit-${tag()}`;
const SLOW = `slow-record-${tag()}`;
const SLOW_KEY = `hashtext(${lit(SLOW)})`;
const ROWS = `fail-in-rows-${tag()}`;

psql(`CREATE FUNCTION "nano_test_fail_at_commit"() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW."prompt" LIKE ${lit(`%${MARK}%`)} THEN
            RAISE EXCEPTION 'refused at commit (test)';
        END IF;
        RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER "nano_test_fail_at_commit"
        AFTER INSERT ON "Generation" DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION "nano_test_fail_at_commit"();
    CREATE FUNCTION "nano_test_fail_in_rows"() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW."prompt" LIKE ${lit(`%${ROWS}%`)} THEN
            RAISE EXCEPTION 'refused in the rows (test)';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER "nano_test_fail_in_rows"
        BEFORE INSERT ON "Generation"
        FOR EACH ROW EXECUTE FUNCTION "nano_test_fail_in_rows"();
    CREATE FUNCTION "nano_test_slow_record"() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- until the test lets it go (holdRecords), not for a time: a
            -- 1.5 s sleep (0.4 s before) could end on a loaded host
            -- before the check that the row was still running
            IF NEW."status" = 'succeeded' AND OLD."status" = 'running' THEN
                PERFORM pg_advisory_xact_lock_shared(${SLOW_KEY});
            END IF;
            RETURN NEW;
        END $$;
    CREATE TRIGGER "nano_test_slow_record"
        BEFORE UPDATE ON "Generation" FOR EACH ROW
        WHEN (NEW."prompt" LIKE ${lit(`%${SLOW}%`)})
        EXECUTE FUNCTION "nano_test_slow_record"();`);

after(() => {
    psql(`DROP TRIGGER IF EXISTS "nano_test_fail_at_commit" ON "Generation";
        DROP FUNCTION IF EXISTS "nano_test_fail_at_commit"();
        DROP TRIGGER IF EXISTS "nano_test_fail_in_rows" ON "Generation";
        DROP FUNCTION IF EXISTS "nano_test_fail_in_rows"();
        DROP TRIGGER IF EXISTS "nano_test_slow_record" ON "Generation";
        DROP FUNCTION IF EXISTS "nano_test_slow_record"();`);
});

/* Holds every slow record in its UPDATE until the returned release()
 * (which may be called again). */
async function holdRecords() {
    const h = await holdInPsql(`SELECT 'held', pg_advisory_lock(${SLOW_KEY});`);
    let released;
    return () => (released ??= h.release('SELECT 1;'));
}

/* The owner's read while the record is held, then the record let go: at
 * once if the read answered first (it did not wait: its own checks say
 * so), else once it has had time to reach the module and wait there (on
 * a host too slow for that it comes after the record, and passes
 * without showing the wait, never failing for the host). */
async function readWhileHeld(release, read) {
    const reading = read();
    await Promise.race([reading.catch(() => {}), sleep(500)]);
    await release();
    return reading;
}

const rowsOf = (userId) => Number(psql(`SELECT count(*) FROM "Generation" WHERE "userId" = ${lit(userId)}`));

for (const m of MODULES) {
    test(`${m}: a debit whose commit fails: 503 and no text, nothing charged, no row`, async () => {
        const u = await person(`commit-${m}`);
        // the first call opens the account with its grant
        const ok = await generate(u.jar, m, { prompt: `warm up ${tag()}` });
        assert.equal(ok.status, 200, ok.text.slice(0, 300));
        const balance = balanceOf(u.id);
        const rows = rowsOf(u.id);

        const res = await generate(u.jar, m, { prompt: `tell me ${MARK}` });
        assert.equal(res.status, 503, res.text.slice(0, 300));
        const j = res.json();
        assert.equal(j.error, 'database_unavailable');
        assert.equal(j.text, undefined, 'no answer text');
        assert.ok(!/Fake reply|offline/i.test(res.text), res.text.slice(0, 300));
        assert.equal(balanceOf(u.id), balance, 'nothing was debited');
        assert.equal(ledgerSum(u.id), balance, 'the ledger still sums to the balance');
        assert.equal(rowsOf(u.id), rows, 'no generation row');
    });

    test(`${m}: streamed, a debit whose commit fails: an error event, no delta, nothing charged`, async () => {
        const u = await person(`commit-s-${m}`);
        const ok = await generate(u.jar, m, { prompt: `warm up ${tag()}` });
        assert.equal(ok.status, 200, ok.text.slice(0, 300));
        const balance = balanceOf(u.id);
        const rows = rowsOf(u.id);

        const s = await stream(u.jar, m, { prompt: `stream ${MARK}`, stream: true });
        assert.equal(s.status, 200, s.text.slice(0, 300));
        assert.deepEqual(s.events.filter((e) => e.event === 'delta'), [], 'no delta reached the reader');
        assert.ok(!s.events.some((e) => e.event === 'done'), s.text.slice(0, 300));
        const err = s.events.find((e) => e.event === 'error');
        assert.ok(err, `an error event: ${s.text.slice(0, 300)}`);
        assert.equal(err.data.error, 'database_unavailable');
        assert.equal(balanceOf(u.id), balance, 'nothing was debited');
        assert.equal(rowsOf(u.id), rows, 'no generation row');
    });

    test(`${m}: the admission's rows fail behind its answer: 503, the debit undone, no ledger row`, async () => {
        const u = await person(`rows-${m}`);
        const ok = await generate(u.jar, m, { prompt: `warm up ${tag()}` });
        assert.equal(ok.status, 200, ok.text.slice(0, 300));
        const balance = balanceOf(u.id);
        const rows = rowsOf(u.id);
        const ledger = ledgerRows(u.id).length;

        const res = await generate(u.jar, m, { prompt: `tell me ${ROWS}` });
        assert.equal(res.status, 503, res.text.slice(0, 300));
        assert.equal(res.json().error, 'database_unavailable');
        assert.ok(!/Fake reply|offline/i.test(res.text), res.text.slice(0, 300));
        assert.equal(balanceOf(u.id), balance, 'the debit was rolled back with the rows');
        assert.equal(ledgerRows(u.id).length, ledger, 'no ledger row');
        assert.equal(ledgerSum(u.id), balance, 'the ledger still sums to the balance');
        assert.equal(rowsOf(u.id), rows, 'no generation row');

        const again = await generate(u.jar, m, { prompt: `after it ${tag()}` });
        assert.equal(again.status, 200, `the connection serves the next call: ${again.text.slice(0, 300)}`);
    });

    test(`${m}: the record written behind the reply is there when the client asks at once (20 in a row)`, async () => {
        const u = await person(`behind-${m}`);
        for (let i = 0; i < 20; i++) {
            const res = await generate(u.jar, m, { prompt: `number ${i} ${tag()}` });
            assert.equal(res.status, 200, res.text.slice(0, 300));
            const j = res.json();
            const g = (await generation(u.jar, m, j.id)).json();
            assert.equal(g.status, 'succeeded', `call ${i}: ${JSON.stringify(g).slice(0, 300)}`);
            assert.equal(g.text, j.text, `call ${i}: the row keeps the text`);
            assert.equal(g.cost, price(m));
        }
        assert.equal(ledgerSum(u.id), balanceOf(u.id), 'the ledger sums to the balance');
    });
}

for (const m of MODULES) {
    test(`${m}: a slow record: the owner's next reads wait for it (generation, history, delete)`, async () => {
        const u = await person(`slow-${m}`);
        const check = async (what, read) => {
            const release = await holdRecords();
            try {
                const res = await generate(u.jar, m, { prompt: `${what} ${SLOW} ${tag()}` });
                assert.equal(res.status, 200, res.text.slice(0, 300));
                const j = res.json();
                assert.equal(row(j.id).status, 'running',
                    'the reply came before its record (the trigger holds it)');
                await readWhileHeld(release, () => read(j));
            } finally {
                await release();
            }
        };
        await check('generation', async (j) => {
            const g = (await generation(u.jar, m, j.id)).json();
            assert.equal(g.status, 'succeeded', JSON.stringify(g).slice(0, 300));
            assert.equal(g.text, j.text);
        });
        await check('history', async (j) => {
            const h = (await history(u.jar, m, '?limit=1')).json();
            assert.equal(h.items[0].id, j.id);
            assert.equal(h.items[0].status, 'succeeded', JSON.stringify(h.items[0]).slice(0, 300));
        });
        await check('delete', async (j) => {
            const d = await del(u.jar, m, j.id);
            assert.equal(d.status, 200, `not 409 "running": ${d.text.slice(0, 200)}`);
        });
        assert.equal(ledgerSum(u.id), balanceOf(u.id), 'the ledger sums to the balance');
    });
}

test('qwen: a slow record: the next turn of the conversation carries the answer before it', async () => {
    if (!has('qwen')) return;
    const u = await person('slow-conv');
    const p1 = `first ${SLOW} ${tag()}`;
    const p2 = `second ${tag()}`;
    const release = await holdRecords();
    let r1, r2;
    try {
        r1 = (await generate(u.jar, 'qwen', { prompt: p1 })).json();
        assert.equal(row(r1.id).status, 'running');
        r2 = await readWhileHeld(release, () => generate(u.jar, 'qwen',
            { prompt: p2, conversationId: r1.conversationId }));
    } finally {
        await release();
    }
    assert.equal(r2.status, 200, r2.text.slice(0, 300));
    const body = (await fakeStats()).last['chat.dashscope'].body;
    assert.deepEqual(body.messages, [
        { role: 'user', content: p1 }, { role: 'assistant', content: r1.text }, { role: 'user', content: p2 },
    ]);
});

// The admission's two halves (sql/018_admit_split.sql, 019): the rows
// write only what the debit decided, in the debit's own transaction,
// once, and either half alone leaves the balance as it was.
test('nano_gen_admit_rows writes nothing outside the debit\'s transaction, for another id, or twice; the debit alone takes nothing', async () => {
    const u = await person('rows-sql');
    const ok = await generate(u.jar, MODULES[0] || 'openai', { prompt: `opens the account ${tag()}` });
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
    const balance = balanceOf(u.id);
    const [a, b] = [`rows-a-${tag()}`, `rows-b-${tag()}`];
    const rowsCall = (id) => `SELECT "nano_gen_admit_rows"(${lit(id)}, 'text', 'running', 'p', NULL,
        false, NULL, NULL, NULL)`;
    const debit = (id, max = 16) => `SELECT o_outcome FROM "nano_gen_admit_debit"(${lit(id)}, ${lit(u.id)},
        'openai', NULL, ${max})`;
    const count = (id) => Number(psql(`SELECT count(*) FROM "Generation" WHERE "id" = ${lit(id)}`))
        + Number(psql(`SELECT count(*) FROM "CreditLedger" WHERE "generationId" = ${lit(id)}`));

    // alone: no debit in its transaction
    assert.equal(psql(rowsCall(a)), 'f');
    assert.equal(count(a), 0);
    // the debit alone, committed without its rows, takes nothing
    // (sql/019_admit_debit_in_rows.sql)
    const c = `rows-c-${tag()}`;
    assert.equal(psql(debit(c)), 'admitted');
    assert.equal(count(c), 0);
    assert.equal(balanceOf(u.id), balance, 'the debit alone changed the balance');
    // after the debit of another id, and for its own id once only
    assert.deepEqual(psql(`${debit(a)}; ${rowsCall(b)}; ${rowsCall(a)}; ${rowsCall(a)};`).split('\n'),
        ['admitted', 'f', 't', 'f']);
    assert.equal(count(b), 0);
    assert.equal(count(a), 2, 'one generation row and one ledger row');
    assert.equal(row(a).userId, u.id, 'the debit\'s user, not one the rows were given');
    assert.equal(row(a).module, 'openai');
    // a refused debit leaves nothing to write
    assert.deepEqual(psql(`${debit(b, 0)}; ${rowsCall(b)};`).split('\n'), ['too_many', 'f']);
    assert.equal(count(b), 0);
    // the debit and its rows agree: the ledger sums to the balance
    assert.equal(balanceOf(u.id), balance - Number(psql(`SELECT "cost" FROM "Generation" WHERE "id" = ${lit(a)}`)));
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});
