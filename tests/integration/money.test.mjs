// An accountant's audit of credits (docs/MODULES.md "Credits"): every way
// a generation can end, for every module kind, against the fake
// providers' failure modes; after each, the ledger is checked: one debit
// of the price, a refund of the same amount exactly when there is no
// complete result, the ledger's module and user those of the generation,
// the balance the sum of the ledger and what /api/credits shows.  Then the
// same after cancels and deletes racing the runner's claims, an account
// deleted with work in flight, the database down while work ends, and
// kill -9 of image, video and text backends mid-work.  seedream and openai
// are pointed at the fake for their cases (the stack runs them offline).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REGISTRY, ORIGIN, request, sleep, stackctl, stackPid, keepRunning } from './lib.mjs';
import { account } from './accounts.mjs';
import {
    psql, lit, person, generate, waitFor, ledgerOf, balanceOf, ledgerSum,
    credits, stream, tag, withBackendEnv, FAKE_URL, FAKE_KEY, row, waitSql, JSON_H,
} from './generations.mjs';

// seedream and openai run offline in the test stack: pointed at the fake
const ON_FAKE = {
    seedream: [`ARK_API_KEY=${FAKE_KEY}`, `ARK_BASE_URL=${FAKE_URL}`],
    openai: [`OPENAI_API_KEY=${FAKE_KEY}`, `OPENAI_BASE_URL=${FAKE_URL}/v1`],
};
const onFake = (m, fn) => (ON_FAKE[m] ? withBackendEnv(m, ON_FAKE[m], fn) : fn());

const has = (name) => REGISTRY.some((m) => m.name === name);
const needs = (...names) => ({ skip: names.some((n) => !has(n)) && `needs ${names.join(', ')}` });
keepRunning(['nano-banana', 'wan-2.5', 'qwen']);      // the kill -9 test

// The ledger of one ended generation, checked against its row.
function audit(u, m, g, what) {
    const rows = ledgerOf(g.id);
    const debits = rows.filter((r) => r.reason === 'debit');
    const refunds = rows.filter((r) => r.reason === 'refund');
    assert.equal(debits.length, 1, `${what}: one debit ${JSON.stringify(rows)}`);
    assert.equal(Number(debits[0].delta), -g.cost, `${what}: the debit is the price`);
    for (const r of rows) {
        assert.equal(r.userId, u.id, `${what}: the ledger's user`);
        assert.equal(r.module, m, `${what}: the ledger's module`);
    }
    const complete = g.status === 'succeeded';
    assert.equal(refunds.length, complete ? 0 : 1,
        `${what}: ${g.status} ${JSON.stringify(g.error)} ledger ${JSON.stringify(rows)}`);
    if (refunds.length) assert.equal(Number(refunds[0].delta), g.cost, `${what}: the refund is the debit`);
}

async function balanced(u, what) {
    const b = balanceOf(u.id);
    assert.equal(b, ledgerSum(u.id), `${what}: the balance is the ledger's sum`);
    const api = (await credits(u.jar, '?limit=1')).json();
    assert.equal(api.balance, b, `${what}: /api/credits`);
    assert.ok(b >= 0, `${what}: never below zero`);
}

// Credits enough for every case, granted as an operator would.
function fund(u) {
    psql(`UPDATE "CreditAccount" SET "balance" = "balance" + 100000 WHERE "userId" = ${lit(u.id)};
          INSERT INTO "CreditLedger" ("userId", "delta", "reason") VALUES (${lit(u.id)}, 100000, 'grant')`);
    return u;
}

async function jobs(m, markers) {
    const u = fund(await person(`money-${m}`));
    const out = [];
    // the in-flight limit is 16 a module
    for (let i = 0; i < markers.length; i += 12) {
        await Promise.all(markers.slice(i, i + 12).map(async (marker) => {
            const r = await generate(u.jar, m, { prompt: `audit ${marker} ${tag()}` });
            assert.equal(r.status, 202, `${m} ${marker}: ${r.text}`);
            const g = await waitFor(u.jar, m, r.json().id, { ms: 120000 });
            out.push(`${marker} -> ${g.status} ${g.error?.code ?? ''}`);
            audit(u, m, g, `${m} ${marker}`);
        }));
    }
    await balanced(u, m);
    console.log(m, out);
}

test('money: image jobs end with one debit and a refund exactly when they fail (nano-banana)', { skip: !has('nano-banana') }, () => jobs('nano-banana', [
    '', '[fake:500]', '[fake:429]', '[fake:503-once]', '[fake:drop-once]', '[fake:auth]', '[fake:bad-request]',
    '[fake:malformed]', '[fake:safety]', '[fake:block-prompt]', '[fake:no-image]', '[fake:frameless-jpeg]',
    '[fake:cut-answer]', '[fake:quota-exhausted]',
]));

test('money: image jobs (seedream)', { skip: !has('seedream') }, () => onFake('seedream', () => jobs('seedream', [
    '', '[fake:500]', '[fake:429]', '[fake:503-once]', '[fake:drop-once]', '[fake:auth]', '[fake:bad-request]',
    '[fake:malformed]', '[fake:safety]', '[fake:safety-output]', '[fake:url]', '[fake:url] [fake:cut-download]',
    '[fake:url] [fake:short-download]', '[fake:url] [fake:cut-download=1]', '[fake:image-bytes=40000000]',
    '[fake:quota-exhausted]', '[fake:url] [fake:redirect-download=3]', '[fake:url] [fake:redirect-download=30]',
])));

test('money: video jobs (wan-2.5)', { skip: !has('wan-2.5') }, () => jobs('wan-2.5', [
    '', '[fake:500]', '[fake:429]', '[fake:503-once]', '[fake:drop-once]', '[fake:auth]', '[fake:bad-request]',
    '[fake:malformed]', '[fake:safety]', '[fake:fail-task]', '[fake:safety-task]', '[fake:cancel-task]',
    '[fake:poll-429=2]', '[fake:poll-drop=2]', '[fake:poll-garbage=2]', '[fake:busy-download=2]',
    '[fake:cut-download]', '[fake:short-download]', '[fake:cut-download=1]', '[fake:quota-exhausted]',
    '[fake:key-in-task]',
]));

const TEXT = ['', '[fake:500]', '[fake:429]', '[fake:503-once]', '[fake:drop-once]', '[fake:auth]', '[fake:bad-request]',
    '[fake:malformed]', '[fake:safety]', '[fake:quota-exhausted]', '[fake:content-filter]', '[fake:odd-unicode]',
    '[fake:no-usage]', '[fake:cut]', '[fake:cut=0]', '[fake:cut=99]', '[fake:error-in-stream]',
    '[fake:error-in-stream=0]', '[fake:key-in-stream]', '[fake:malformed-chunk]', '[fake:cut-answer]',
    '[fake:inspect-in-stream]'];

for (const m of ['qwen', 'grok', 'openai']) {
    test(`money: text answers, whole and streamed (${m})`, { skip: !has(m) }, () => onFake(m, async () => {
        const u = await person(`money-${m}`);
        const out = [];
        for (const s of [false, true]) for (let i = 0; i < TEXT.length; i += 10) {
            await Promise.all(TEXT.slice(i, i + 10).map(async (marker) => {
                const body = { prompt: `audit ${marker} ${tag()}`, stream: s };
                let id;
                if (s) {
                    const r = await stream(u.jar, m, body);
                    const end = r.events.find((e) => e.event === 'done' || e.event === 'error');
                    id = end?.data?.id;
                    assert.ok(id || r.status !== 200, `${m} ${marker} streamed: ${r.text.slice(-300)}`);
                } else {
                    const r = await generate(u.jar, m, body);
                    id = r.json()?.id;
                }
                if (!id) { out.push(`${marker} stream=${s}: no id`); return; }
                const g = await waitFor(u.jar, m, id, { ms: 60000 });
                out.push(`${marker} stream=${s} -> ${g.status} ${g.error?.code ?? ''}`);
                audit(u, m, g, `${m} ${marker} stream=${s}`);
            }));
        }
        await balanced(u, m);
        console.log(m, out);
    }));
}

// Every generation of a user checked as audit() does, whatever their status.
async function auditAll(u, what) {
    const gens = JSON.parse(psql(`SELECT coalesce(json_agg(json_build_object('id', "id", 'module', "module",
        'status', "status", 'cost', "cost", 'error', "error")), '[]') FROM "Generation" WHERE "userId" = ${lit(u.id)}`));
    for (const g of gens) {
        if (g.status === 'queued' || g.status === 'running') continue;
        audit(u, g.module, g, `${what} ${g.id}`);
    }
    await balanced(u, what);
    return gens;
}

test('money: cancels and deletes racing the runner\'s claims: canceled or deleted while queued refunded once, the rest charged once', needs('nano-banana'), () => withBackendEnv('nano-banana', ['NANO_JOBS_MAX=2'], async () => {
    const m = 'nano-banana';
    const u = fund(await person('money-race'));
    const answers = [];
    for (let round = 0; round < 3; round++) {
        const made = await Promise.all(Array.from({ length: 12 }, (_, i) =>
            generate(u.jar, m, { prompt: `race ${i} [fake:slow=${200 * (i % 4)}] ${tag()}` })));
        const mine = made.map((r) => { assert.equal(r.status, 202, r.text); return r.json().id; });
        answers.push(...await Promise.all(mine.map((id, i) => (i % 2
            ? request('DELETE', `/${m}/api/generations/${id}`, { headers: u.jar.headers({ Origin: ORIGIN }) })
            : request('POST', `/${m}/api/generations/${id}/cancel`, { headers: u.jar.headers(JSON_H), body: '{}' }))
            .then((r) => [id, i % 2 ? 'delete' : 'cancel', r.status]))));
        for (const id of mine) {
            await waitSql(`SELECT 1 FROM "Generation" WHERE "id" = ${lit(id)} AND "status" IN ('queued', 'running')`,
                { ms: 60000, pred: (o) => o === '' });
        }
    }
    for (const [id, what, status] of answers) {
        assert.ok([200, 409].includes(status), `${what} ${id}: ${status}`);
        const rows = ledgerOf(id);
        const debits = rows.filter((r) => r.reason === 'debit').length;
        const refunds = rows.filter((r) => r.reason === 'refund').length;
        const g = row(id);
        assert.equal(debits, 1, `${what} ${id}`);
        if (status === 200 && what === 'cancel') {
            assert.equal(g.status, 'canceled');
            assert.equal(refunds, 1, `${what} ${id} answered 200: refunded`);
        } else if (status === 200) {
            // deleted queued (refunded) or already ended (refunded when it failed)
            assert.equal(g, null);
            assert.ok(refunds <= 1, `${what} ${id}: refunded at most once`);
        } else {
            assert.ok(g, `${what} ${id} answered 409: the row stays`);
            assert.equal(refunds, g.status === 'succeeded' ? 0 : 1, `${what} ${id}: ${g.status}`);
        }
    }
    console.log(answers.map((a) => a.slice(1).join(' ')).reduce((o, k) => ({ ...o, [k]: (o[k] || 0) + 1 }), {}));
    await auditAll(u, 'race');
}));

test('money: an account deleted with jobs queued and running and a stream in flight leaves its ledger whole under another id', needs('nano-banana', 'wan-2.5', 'qwen'), async () => {
    const u = fund(await person('money-gone'));
    const jobs = await Promise.all(Array.from({ length: 10 }, (_, i) =>
        generate(u.jar, i % 2 ? 'wan-2.5' : 'nano-banana', { prompt: `gone ${i} [fake:slow=1500] ${tag()}` })));
    const jobIds = jobs.map((r) => { assert.equal(r.status, 202, r.text); return r.json().id; });
    const s = stream(u.jar, 'qwen', { prompt: `gone stream [fake:slow=1000] ${tag()}`, stream: true }).catch((e) => e);
    await sleep(300);
    const del = await account('DELETE', '/api/account', u.jar, { password: u.user.password });
    assert.equal(del.status, 200, del.text);
    await s;
    await sleep(3000);
    assert.equal(balanceOf(u.id), null);
    assert.equal(psql(`SELECT count(*) FROM "CreditLedger" WHERE "userId" = ${lit(u.id)}`), '0');
    assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "userId" = ${lit(u.id)}`), '0');
    // the debits kept, each once, under one anonymous id, refunds at most once and of the debit
    const tombs = psql(`SELECT DISTINCT "userId" FROM "CreditLedger" WHERE "generationId" = ANY(ARRAY[${jobIds.map(lit).join(',')}])`).split('\n');
    assert.equal(tombs.length, 1, tombs.join(' '));
    assert.match(tombs[0], /^deleted-/);
    for (const id of jobIds) {
        const rows = ledgerOf(id);
        assert.equal(rows.filter((r) => r.reason === 'debit').length, 1, id);
        assert.ok(rows.filter((r) => r.reason === 'refund').length <= 1, id);
    }
    assert.ok(Number(psql(`SELECT count(*) FROM "CreditLedger" WHERE "userId" = ${lit(tombs[0])} AND "reason" = 'signup'`)) === 1);
    assert.ok(Number(psql(`SELECT count(*) FROM "CreditLedger" WHERE "userId" = ${lit(tombs[0])} AND "reason" = 'grant'`)) === 1);
});

test('money: the database down for a few seconds while jobs and answers end: each charged once, refunded exactly when it failed', needs('nano-banana', 'qwen', 'grok'), async () => {
    const u = fund(await person('money-dbdown'));
    const img = await Promise.all(Array.from({ length: 8 }, (_, i) =>
        generate(u.jar, 'nano-banana', { prompt: `dbdown ${i} [fake:slow=1500]${i % 2 ? ' [fake:safety]' : ''} ${tag()}` })));
    const ids = img.map((r) => { assert.equal(r.status, 202, r.text); return r.json().id; });
    const texts = Array.from({ length: 6 }, (_, i) => (i % 2
        ? stream(u.jar, 'qwen', { prompt: `dbdown s${i} [fake:slow=1500]${i % 4 === 1 ? ' [fake:error-in-stream]' : ''} ${tag()}`, stream: true })
        : generate(u.jar, 'grok', { prompt: `dbdown w${i} [fake:slow=1500]${i % 4 === 2 ? ' [fake:500]' : ''} ${tag()}` }))
        .catch((e) => e));
    await sleep(1000);
    stackctl('stop-db');
    await sleep(3000);
    stackctl('start-db');
    await Promise.all(texts);
    // every row ends, by its runner or by its lease (30 s)
    await waitSql(`SELECT 1 FROM "Generation" WHERE "userId" = ${lit(u.id)} AND "status" IN ('queued', 'running')`,
        { ms: 90000, pred: (o) => o === '' });
    const gens = await auditAll(u, 'db down');
    console.log(gens.map((g) => `${g.module} ${g.status} ${g.error?.code ?? ''}`));
    assert.ok(ids.every((id) => gens.some((g) => g.id === id)));
});

test('money: kill -9 of image, video and text backends with work in every phase: each charged once, refunded exactly when it failed', needs('nano-banana', 'wan-2.5', 'qwen'), async () => {
    const u = fund(await person('money-kill'));
    const apps = ['nano-banana', 'wan-2.5', 'qwen'];
    const made = [];
    for (let i = 0; i < 6; i++) {
        made.push(generate(u.jar, 'nano-banana', { prompt: `kill ${i} [fake:slow=${400 * i}] ${tag()}` }));
        made.push(generate(u.jar, 'wan-2.5', { prompt: `kill v${i} ${tag()}` }));
    }
    const ids = (await Promise.all(made)).map((r) => { assert.equal(r.status, 202, r.text); return r.json().id; });
    const texts = Array.from({ length: 4 }, (_, i) => stream(u.jar, 'qwen',
        { prompt: `kill s${i} [fake:slow=${300 * i}] ${tag()}`, stream: i % 2 === 0 }).catch((e) => e));
    await sleep(900);
    for (const app of apps) process.kill(stackPid(app), 'SIGKILL');
    await Promise.all(texts);
    for (const app of apps) stackctl('start-backend', app);
    await waitSql(`SELECT 1 FROM "Generation" WHERE "userId" = ${lit(u.id)} AND "status" IN ('queued', 'running')`,
        { ms: 120000, pred: (o) => o === '' });
    const gens = await auditAll(u, 'kill -9');
    console.log(gens.map((g) => `${g.module} ${g.status} ${g.error?.code ?? ''}`));
    assert.ok(ids.every((id) => gens.some((g) => g.id === id)));
});
