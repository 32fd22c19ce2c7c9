// The measuring half of tests/bench/history: 10,000 generations for one
// user in nano-banana (one INSERT ... generate_series), more rows around
// them, then GET /nano-banana/api/history for that user and for a user
// with none, alternating; and the plan of the history query.
import fs from 'node:fs';
import * as L from '../integration/lib.mjs';
import * as B from './lib.mjs';

const SAMPLES = Number(process.argv[2] || 1000);
const ROWS = 10000;
const MODULE = 'nano-banana';

const heavy = await L.signedInUser('histheavy');
const empty = await L.signedInUser('histempty');
const uid = B.checkId(heavy.me.id);
const eid = B.checkId(empty.me.id);

// what the runner writes for an image: outputs [{file, mime, width,
// height, bytes}], params, a finished row; one in twenty failed
const rowsSql = (user, module, n, days) => `
INSERT INTO "Generation" ("id", "userId", "module", "model", "kind", "status", "prompt", "params",
    "cost", "offline", "outputs", "error", "phase", "createdAt", "startedAt", "finishedAt")
SELECT g.id, '${user}', '${module}', 'gemini-2.5-flash-image', 'image',
       CASE WHEN g.i % 20 = 0 THEN 'failed' ELSE 'succeeded' END,
       'A photorealistic banana number ' || g.i || ' on a wooden table, soft morning light, shallow depth of field, 35mm',
       jsonb_build_object('aspectRatio', (ARRAY['1:1','16:9','9:16','4:3'])[1 + g.i % 4], 'seed', g.i),
       4, false,
       CASE WHEN g.i % 20 = 0 THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_object(
           'file', '${module}/${user}/' || g.id || '/0.png', 'mime', 'image/png',
           'width', 1024, 'height', 1024, 'bytes', 1400000 + g.i % 50000)) END,
       CASE WHEN g.i % 20 = 0 THEN '{"code":"blocked","message":"the provider blocked this prompt for safety"}'::jsonb END,
       'submitting',
       t.at, t.at + interval '0.2 s', t.at + interval '9 s'
FROM (SELECT i, gen_random_uuid()::text AS id,
             (now() AT TIME ZONE 'utc') - (${days} * interval '1 day') * (i::float8 / ${n}) AS at
      FROM generate_series(1, ${n}) AS i) AS g, LATERAL (SELECT g.at) AS t;`;

let t = Date.now();
B.psql(rowsSql(uid, MODULE, ROWS, 90));
console.log(`inserted ${ROWS} rows for the user in ${MODULE} in one statement (${Date.now() - t} ms)`);
t = Date.now();
for (const m of ['seedream', 'qwen', 'openai']) B.psql(rowsSql(uid, m, 2000, 90));
for (let k = 0; k < 12; k++) B.psql(rowsSql(`bench-other-${k}`, k % 2 ? MODULE : 'seedream', 2000, 60));
B.psql('ANALYZE "Generation"');
const count = B.psql(`SELECT count(*) || ' ' || count(*) FILTER (WHERE "userId" = '${uid}' AND "module" = '${MODULE}') FROM "Generation"`);
console.log(`table "Generation": ${count.split(' ')[0]} rows, ${count.split(' ')[1]} of them the user's in ${MODULE} (${Date.now() - t} ms for the rest)`);
console.log(B.pgSettingsLine());

const send = B.client(L.BASE);
const call = async (jar) => {
    const r = await send('GET', `/${MODULE}/api/history`, { headers: jar.headers() });
    if (r.status !== 200) throw new Error(`history answered ${r.status}: ${r.text.slice(0, 200)}`);
    return r;
};

// the module's own query, as PostgreSQL logged it for one real call
B.psql("ALTER SYSTEM SET log_min_duration_statement = 0; SELECT pg_reload_conf();");
await L.sleep(200);
const firstPage = JSON.parse((await call(heavy.jar)).text);
await L.sleep(200);
B.psql("ALTER SYSTEM RESET log_min_duration_statement; SELECT pg_reload_conf();");
if (firstPage.items.length !== 20 || !firstPage.nextCursor) throw new Error(`unexpected first page: ${firstPage.items.length} items, cursor ${firstPage.nextCursor}`);
if (!firstPage.items[0].outputs[0]?.url) throw new Error('the first item has no output URL');
const log = fs.readFileSync(`${process.env.NANO_TEST_STATE}/logs/postgres.log`, 'utf8');
const m = [...log.matchAll(/execute <unnamed>: (SELECT .*? FROM "Generation" WHERE "userId" = (?:\$1|u\."id") AND "module" = \$2 AND \(\$3.*)\n.*DETAIL: {2}[Pp]arameters: (.*)/g)].pop();
if (!m) throw new Error('the history query is not in the PostgreSQL log');
const [, query, params] = m;
console.log(`the module's history query: ${query}`);
console.log(`its parameters: ${params}`);
const plan = B.psql(`PREPARE h(text, text, timestamp, text, bigint) AS ${query};
EXPLAIN (ANALYZE, BUFFERS) EXECUTE h('${uid}', '${MODULE}', NULL, NULL, 21);`);
console.log(plan.split('\n').map((l) => `  ${l}`).join('\n'));
if (!/Index Scan using "Generation_user_module_idx"/.test(plan)) console.log('WARNING: the plan does not use "Generation_user_module_idx"');
// and what a generate costs this user: the in-flight count of its insert
const inflight = B.psql(`EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM "Generation" WHERE "userId" = '${uid}'
    AND "module" = '${MODULE}' AND "status" IN ('queued', 'running')`);
console.log(`the in-flight count of a generate for this user:\n${inflight.split('\n').map((l) => `  ${l}`).join('\n')}`);

for (let i = 0; i < 100; i++) {
    await call(heavy.jar);
    await call(empty.jar);
}
const h = [];
const e = [];
for (let i = 0; i < SAMPLES; i++) {
    const [a, b] = i % 2 ? [heavy, empty] : [empty, heavy];
    const ra = await call(a.jar);
    const rb = await call(b.jar);
    (a === heavy ? h : e).push(ra.t.end - ra.t.start);
    (b === heavy ? h : e).push(rb.t.end - rb.t.start);
}
send.close();
const bytes = Buffer.byteLength(JSON.stringify(firstPage));
const line = (name, s) => `${name.padEnd(32)} p50 ${B.ms(s.p50)}  p90 ${B.ms(s.p90)}  p99 ${B.ms(s.p99)}  max ${B.ms(s.max, 1)} ms`;
const sh = B.summary(h);
console.log(`${SAMPLES} calls per user; a page of 20 items is ${bytes} bytes of JSON`);
console.log(line(`${ROWS.toLocaleString('en')} generations`, sh));
console.log(line('no generations (baseline)', B.summary(e)));
console.log(`history without a cursor, ${ROWS} rows: median ${B.ms(sh.p50)} ms, p99 ${B.ms(sh.p99)} ms; goal < 50 ms: ${sh.p99 < 50 ? 'met (p99 too)' : (sh.p50 < 50 ? 'met at the median' : 'missed')}`);
