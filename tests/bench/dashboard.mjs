// The measuring half of tests/bench/dashboard: a user with 10,000
// generations and their ledger rows (one INSERT each), others around
// them, then GET /api/dashboard for that user, for a user with none
// (the baseline) and GET /api/auth/session, in turn, on one kept-alive
// connection each; and the plan of the dashboard's statement.
import fs from 'node:fs';
import * as L from '../integration/lib.mjs';
import * as B from './lib.mjs';

const SAMPLES = Number(process.argv[2] || 500);
const ROWS = 10000;
const GOAL_MS = 50;
// B.summary with p95, the figure the goal is read against
const summary = (xs) => ({ ...B.summary(xs), p95: B.pct([...xs].sort((a, b) => a - b), 0.95) });

const MODULES = [
    ['nano-banana', 'gemini-2.5-flash-image', 'image', 4], ['seedream', 'seedream-4-0-250828', 'image', 3],
    ['qwen', 'qwen-plus', 'text', 1], ['grok', 'grok-3-mini', 'text', 1], ['openai', 'gpt-4o-mini', 'text', 1],
    ['wan-2.5', 'wan2.5-t2v-preview', 'video', 20],
];
const arr = (i) => `(ARRAY[${MODULES.map((m) => (typeof m[i] === 'number' ? m[i] : `'${m[i]}'`)).join(',')}])`;

// n generations of user over the last `days` days, every module in turn,
// one in twenty failed; then their ledger: a debit each, a refund for
// each failed one, and the account holding what the ledger sums to.
function seed(user, n, days) {
    B.psql(`INSERT INTO "Generation" ("id", "userId", "module", "model", "kind", "status", "prompt", "params",
        "cost", "offline", "outputs", "text", "error", "createdAt", "startedAt", "finishedAt")
    SELECT g.id, '${user}', ${arr(0)}[1 + g.i % 6], ${arr(1)}[1 + g.i % 6], ${arr(2)}[1 + g.i % 6],
           CASE WHEN g.i % 20 = 0 THEN 'failed' ELSE 'succeeded' END,
           'A photorealistic banana number ' || g.i || ' on a wooden table, soft morning light, 35mm',
           jsonb_build_object('seed', g.i), ${arr(3)}[1 + g.i % 6], false,
           CASE WHEN g.i % 20 <> 0 AND ${arr(2)}[1 + g.i % 6] <> 'text' THEN jsonb_build_array(jsonb_build_object(
               'file', ${arr(0)}[1 + g.i % 6] || '/${user}/' || g.id || '/0.png', 'mime', 'image/png',
               'width', 1024, 'height', 1024, 'bytes', 1400000)) ELSE '[]'::jsonb END,
           CASE WHEN ${arr(2)}[1 + g.i % 6] = 'text' THEN 'An answer about bananas, a few sentences long.' END,
           CASE WHEN g.i % 20 = 0 THEN '{"code":"provider_error","message":"the provider failed"}'::jsonb END,
           g.at, g.at + interval '0.2 s', g.at + interval '9 s'
    FROM (SELECT i, gen_random_uuid()::text AS id,
                 (now() AT TIME ZONE 'utc') - (${days} * interval '1 day') * (i::float8 / ${n}) AS at
          FROM generate_series(1, ${n}) AS i) AS g;
    INSERT INTO "CreditLedger" ("userId", "delta", "reason", "module", "generationId", "createdAt")
    SELECT "userId", -"cost", 'debit', "module", "id", "createdAt" FROM "Generation" WHERE "userId" = '${user}'
    UNION ALL
    SELECT "userId", "cost", 'refund', "module", "id", "finishedAt" FROM "Generation"
     WHERE "userId" = '${user}' AND "status" = 'failed';
    INSERT INTO "CreditAccount" ("userId", "balance") SELECT '${user}', 0
     ON CONFLICT ("userId") DO NOTHING;
    INSERT INTO "CreditLedger" ("userId", "delta", "reason") SELECT '${user}', 100000 - coalesce(sum("delta"), 0), 'adjustment'
      FROM "CreditLedger" WHERE "userId" = '${user}';
    UPDATE "CreditAccount" SET "balance" = 100000 WHERE "userId" = '${user}';`);
}

const heavy = await L.signedInUser('dashheavy');
const empty = await L.signedInUser('dashempty');
const uid = B.checkId(heavy.me.id);
let t = Date.now();
seed(uid, ROWS, 90);
const counts = B.psql(`SELECT (SELECT count(*) FROM "Generation" WHERE "userId" = '${uid}') || ' '
    || (SELECT count(*) FROM "CreditLedger" WHERE "userId" = '${uid}')`).split(' ');
console.log(`seeded ${counts[0]} generations and ${counts[1]} ledger rows for the user (${Date.now() - t} ms)`);
t = Date.now();
for (let k = 0; k < 12; k++) seed(`bench-other-${k}`, 2000, 60);
// as autovacuum leaves the tables after inserts (the visibility map set:
// the ledger's index can answer without the heap)
B.psql('VACUUM (ANALYZE) "Generation", "CreditLedger", "CreditAccount"');
console.log(`tables: ${B.psql('SELECT (SELECT count(*) FROM "Generation") || \' generations, \' || (SELECT count(*) FROM "CreditLedger") || \' ledger rows\'')} (${Date.now() - t} ms for the other users)`);
console.log(B.pgSettingsLine());

const sendHeavy = B.client(L.BASE);
const sendEmpty = B.client(L.BASE);
const sendSession = B.client(L.BASE);
const call = async (send, jar, p = '/api/dashboard') => {
    const r = await send('GET', p, { headers: jar.headers({ Accept: 'application/json' }) });
    if (r.status !== 200) throw new Error(`${p} answered ${r.status}: ${r.text.slice(0, 200)}`);
    return { ...r, ms: r.t.end - r.t.start };
};

// one real call with the statement logged, for its plan
B.psql('ALTER SYSTEM SET log_min_duration_statement = 0; SELECT pg_reload_conf();');
await L.sleep(300);
const first = JSON.parse((await call(sendHeavy, heavy.jar)).text);
await L.sleep(300);
B.psql('ALTER SYSTEM RESET log_min_duration_statement; SELECT pg_reload_conf();');
if (first.recent.length !== 12) throw new Error(`expected 12 recent items, got ${first.recent.length}`);
const spent = Object.values(first.usage.series).flat().reduce((a, b) => a + b, 0);
console.log(`one answer: ${Buffer.byteLength(JSON.stringify(first))} bytes, ${first.recent.length} recent, `
    + `${first.usage.modules.length} modules in the chart, ${spent} credits spent in 30 days`);
const log = fs.readFileSync(`${process.env.NANO_TEST_STATE}/logs/postgres.log`, 'utf8');
const m = [...log.matchAll(/execute <unnamed>: (SELECT \(SELECT "balance" FROM "CreditAccount".*)\n.*DETAIL: {2}[Pp]arameters: \$1 = '([^']*)', \$2 = '([^']*)'/g)].pop();
if (!m) {
    console.log('WARNING: the dashboard statement is not in the PostgreSQL log; no plan');
} else {
    const plan = B.psql(`PREPARE d(text, text) AS ${m[1]};\nEXPLAIN (ANALYZE, BUFFERS) EXECUTE d('${B.checkId(m[2])}', '${m[3].replace(/'/g, '')}');`);
    console.log('the plan of the dashboard statement:');
    console.log(plan.split('\n').map((l) => `  ${l}`).join('\n'));
    // ("CreditAccount" has a row per user; with few users a scan is right)
    for (const idx of ['Generation_user_idx', 'CreditLedger_userId_createdAt_idx']) {
        if (!plan.includes(idx)) console.log(`WARNING: the plan does not use "${idx}"`);
    }
    if (/Seq Scan on "(Generation|CreditLedger)"/.test(plan)) console.log('WARNING: a sequential scan of a large table');
}

for (let i = 0; i < 50; i++) {
    await call(sendHeavy, heavy.jar);
    await call(sendEmpty, empty.jar);
    await call(sendSession, heavy.jar, '/api/auth/session');
}
const h = [];
const e = [];
const s = [];
for (let i = 0; i < SAMPLES; i++) {
    // the order turns, so none of the three always follows the same one
    const order = [[h, sendHeavy, heavy.jar, '/api/dashboard'], [e, sendEmpty, empty.jar, '/api/dashboard'],
        [s, sendSession, heavy.jar, '/api/auth/session']];
    for (let k = 0; k < 3; k++) {
        const [into, send, jar, p] = order[(i + k) % 3];
        into.push((await call(send, jar, p)).ms);
    }
}
sendHeavy.close();
sendEmpty.close();
sendSession.close();

const f = (x) => B.ms(x, 2).padStart(7);
const line = (name, x) => `${name.padEnd(40)} p50 ${f(x.p50)}  p95 ${f(x.p95)}  p99 ${f(x.p99)}  max ${f(x.max)} ms`;
const sh = summary(h);
const se = summary(e);
const ss = summary(s);
console.log(`${SAMPLES} calls each, through nginx (nano_auth) and the platform`);
console.log(line(`dashboard, ${ROWS.toLocaleString('en')} generations`, sh));
console.log(line('dashboard, no generations (baseline)', se));
console.log(line('/api/auth/session (second baseline)', ss));
console.log(`ratio to the empty dashboard: median ${(sh.p50 / se.p50).toFixed(2)}, p95 ${(sh.p95 / se.p95).toFixed(2)}; `
    + `to /api/auth/session: median ${(sh.p50 / ss.p50).toFixed(2)}`);
console.log(`dashboard with ${ROWS} generations: median ${sh.p50.toFixed(1)} ms, p95 ${sh.p95.toFixed(1)} ms; goal < ${GOAL_MS} ms: `
    + `${sh.p95 < GOAL_MS ? 'met (p95 too)' : (sh.p50 < GOAL_MS ? 'met at the median, not at p95' : 'missed')}`);
