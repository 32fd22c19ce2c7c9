// A text answer's end that the database refused (as during a restart;
// here a trigger refuses it while a flag is set) is kept by the module
// process, and its runner writes it once the database answers again
// (nano_jobs_answer_later, docs/MODULES.md "Credits"): the row ends as
// the answer did, long before its lease (30 s) would have failed it, so
// it does not hold one of its owner's in-flight places meanwhile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { REGISTRY } from './lib.mjs';
import {
    person, generate, stream, tag, price, balanceOf, ledgerSum, ledgerOf,
    psql, lit, row, waitSql, logsDir, endGate,
} from './generations.mjs';

// qwen talks to the fake DashScope, whose markers make it fail
const T = 'qwen';
const MARK = `end-refused-${tag()}`;
const LEASE_SECS = 30;          // NANO_JOBS_LEASE_SECS

let gate;
before(() => {
    gate = endGate('nano_test_refuse_end', MARK, "<> 'running'", 'the end is refused (test)');
});
after(() => gate.drop());

const logOf = () => fs.readFileSync(`${logsDir()}/${T}.log`, 'utf8');
const refuse = () => gate.close();
const allow = () => gate.open();

// The row of prompt, once the module tried to end it and was refused:
// still running, held by the process.
async function refusedRow(prompt) {
    const id = psql(`SELECT "id" FROM "Generation" WHERE "prompt" = ${lit(prompt)}`);
    assert.ok(id, 'the row is there');
    assert.equal(row(id).status, 'running', 'its end was refused');
    return id;
}

// Lets the end through and waits for the runner to write it.
async function endWritten(id, status) {
    const refusedAt = Date.now();
    allow();
    await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "status" = ${lit(status)}`,
        { ms: 8000 });
    const took = Date.now() - refusedAt;
    assert.ok(took < LEASE_SECS * 1000 / 2, `written by the runner in ${took} ms, not by the lease`);
    assert.match(logOf(), new RegExp(`generation ${id}: cannot record its end: .*the end is refused \\(test\\).*; it is written once the database answers`));
    assert.match(logOf(), new RegExp(`generation ${id}: its end is written now that the database answers`));
}

for (const [how, ask] of [
    ['a whole answer', async (u, prompt) => {
        const r = await generate(u.jar, T, { prompt });
        assert.equal(r.status, 200, r.text);
        return { text: r.json().text, id: r.json().id };
    }],
    ['a streamed answer', async (u, prompt) => {
        const r = await stream(u.jar, T, { prompt, stream: true });
        assert.equal(r.status, 200, r.text);
        const done = r.events.find((e) => e.event === 'done');
        assert.ok(done, `a done event: ${r.text}`);
        const text = r.events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('');
        return { text, id: done.data.id };
    }],
]) {
    test(`${T}: ${how} whose end the database refused is written by the runner once it answers: succeeded with its text, charged once`, async () => {
        assert.ok(REGISTRY.some((m) => m.name === T), `${T} is in the registry`);
        const u = await person(`endlater-${T}`);
        const cost = price(T);
        const balance = balanceOf(u.id);
        const prompt = `${MARK} ${how} ${tag()}`;
        refuse();
        let id;
        try {
            const a = await ask(u, prompt);
            id = await refusedRow(prompt);
            assert.equal(a.id, id);
            assert.ok(a.text.length > 0, 'the user got the text');
            await endWritten(id, 'succeeded');
            const g = row(id);
            assert.equal(g.text, a.text, 'the text the user got is the one recorded');
            assert.equal(g.error, null);
        } finally {
            allow();
        }
        assert.deepEqual(ledgerOf(id).map((l) => [l.reason, Number(l.delta)]), [['debit', -cost]]);
        assert.equal(balanceOf(u.id), balance - cost);
        assert.equal(ledgerSum(u.id), balanceOf(u.id));
        assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "userId" = ${lit(u.id)}
            AND "status" IN ('queued', 'running')`), '0', 'no in-flight place held');
    });
}

test(`${T}: a failed answer whose end the database refused is written by the runner with its refund, once`, async () => {
    const u = await person(`endlater-fail-${T}`);
    const balance = balanceOf(u.id);
    const prompt = `${MARK} failing ${tag()} [fake:500]`;
    refuse();
    let id;
    try {
        const r = await generate(u.jar, T, { prompt });
        assert.equal(r.status, 502, r.text);
        assert.equal(r.json().error, 'provider_error');
        id = await refusedRow(prompt);
        assert.equal(r.json().id, id);
        await endWritten(id, 'failed');
        assert.equal(row(id).error.code, 'provider_error');
    } finally {
        allow();
    }
    assert.deepEqual(ledgerOf(id).map((l) => l.reason), ['debit', 'refund']);
    assert.equal(balanceOf(u.id), balance, 'nothing charged');
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});
