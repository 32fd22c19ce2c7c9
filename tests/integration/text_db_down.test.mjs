// A text call while the database cannot be reached at all answers 503,
// and leaves nothing for later: its admission was never sent, so it
// cannot have committed, and its id does not go on the list of lost
// debits that the runner works through once the database answers
// (nano_jobs_answer_lost; only NANO_JOBS_ANSWERS_MAX fit, and past them
// each 503 would log that its outcome is unknown).  A conversation
// continued while the database is stopped answers 503 as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { REGISTRY, stackctl, retry } from './lib.mjs';
import { person, generate, tag, withBackendEnv, logsDir, balanceOf, price } from './generations.mjs';

const T = 'openai';
const CALLS = 300;              // past NANO_JOBS_ANSWERS_MAX (256)

test(`${T}: ${CALLS} text calls while the database is out of reach answer 503 and leave no lost debit behind`, { skip: !REGISTRY.some((m) => m.name === T) }, async () => {
    const u = await person(`dbdown-${T}`);
    const warm = await generate(u.jar, T, { prompt: `warm ${tag()}` });
    assert.equal(warm.status, 200, warm.text);
    const balance = balanceOf(u.id);
    const log = `${logsDir()}/${T}.log`;
    const from = fs.statSync(log).size;

    await withBackendEnv(T, ['DATABASE_URL=postgresql://nano@localhost/nano?host=/nonexistent'], async () => {
        for (let i = 0; i < CALLS; i++) {
            const r = await generate(u.jar, T, { prompt: `no database ${i} ${tag()}` });
            assert.equal(r.status, 503, r.text);
            assert.equal(r.json().error, 'database_unavailable');
        }
    });
    const lines = fs.readFileSync(log, 'utf8').slice(from);
    assert.match(lines, /database unavailable/, 'the module saw the database out of reach');
    const unknown = lines.split('\n').filter((l) => l.includes('outcome is unknown'));
    assert.equal(unknown.length, 0, `no 503 was taken for a lost debit: ${unknown.slice(0, 2).join('\n')}`);
    assert.equal(balanceOf(u.id), balance);
    const after = await generate(u.jar, T, { prompt: `after ${tag()}` });
    assert.equal(after.status, 200, after.text);
});

// The turns of a conversation are read on a pooled connection that the
// database's stop broke: that read's "unavailable" was answered as a
// 500 "internal" (until 2026-12-06; found by the text probe), where a
// new conversation got the 503.
test('qwen: a conversation continued while the database is stopped answers 503 database_unavailable, charged nothing', { skip: !REGISTRY.some((m) => m.name === 'qwen') }, async () => {
    const u = await person('dbdown-conv');
    const first = await generate(u.jar, 'qwen', { prompt: `first ${tag()}` });
    assert.equal(first.status, 200, first.text);
    const c = first.json().conversationId;
    const balance = balanceOf(u.id);
    stackctl('stop-db');
    try {
        for (let i = 0; i < 3; i++) {
            const r = await generate(u.jar, 'qwen', { prompt: `again ${i} ${tag()}`, conversationId: c });
            assert.equal(r.status, 503, r.text);
            assert.equal(r.json().error, 'database_unavailable', r.text);
        }
    } finally {
        stackctl('start-db');
    }
    const back = await retry(async () => {
        const r = await generate(u.jar, 'qwen', { prompt: `back ${tag()}`, conversationId: c });
        return r.status === 200 ? r : null;
    }, 15000);
    assert.ok(back, 'continued once the database is back');
    assert.equal(balanceOf(u.id), balance - price('qwen'), 'only the answer after the outage charged');
});
