// What the measuring halves of the module benchmarks share: keep-alive
// HTTP clients that time a request (start, headers, first body byte or a
// chosen first event, end), percentiles, psql on the bench stack's
// database, credits for a bench user.  Run through tests/bench/<name>
// (tests/bench/lib.sh sets the environment).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export const FAKE_URL = process.env.NANO_BENCH_FAKE_URL || '';
export const FAKE_KEY = process.env.NANO_BENCH_FAKE_KEY || '';
export const PG_SOCK = process.env.NANO_TEST_PG_SOCK || '';
export const PSQL = path.join(process.env.NANO_TEST_PG_BINDIR || '/usr/lib/postgresql/15/bin', 'psql');

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
export { nowMs };

// client(base, {sockets}) -> send(method, path, {headers, body, first})
// resolving {status, headers, text, t: {start, headers, first, end}} (ms,
// monotonic).  Connections are kept alive (one socket unless told).
// first(textSoFar) says when the awaited first piece has arrived (default:
// the first body byte).
export function client(base, { sockets = 1 } = {}) {
    const u = new URL(base);
    const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'lifo' });
    function send(method, p, { headers = {}, body, first, timeout = 30000 } = {}) {
        return new Promise((resolve, reject) => {
            const h = { ...headers };
            if (body !== undefined) h['Content-Length'] = Buffer.byteLength(body);
            const t = { start: nowMs(), headers: 0, first: 0, end: 0 };
            const req = http.request({ host: u.hostname, port: u.port, method, path: p, headers: h, agent }, (res) => {
                t.headers = nowMs();
                let text = '';
                res.setEncoding('utf8');
                res.on('data', (c) => {
                    text += c;
                    if (!t.first && (first ? first(text) : true)) t.first = nowMs();
                });
                res.on('end', () => {
                    t.end = nowMs();
                    resolve({ status: res.statusCode, headers: res.headers, text, t });
                });
                res.on('error', reject);
            });
            req.setTimeout(timeout, () => req.destroy(new Error(`timeout after ${timeout} ms: ${method} ${p}`)));
            req.on('error', reject);
            if (body !== undefined) req.write(body);
            req.end();
        });
    }
    send.close = () => agent.destroy();
    return send;
}

// Percentile p (0..1) of an ascending array: the nearest-rank value.
export function pct(sorted, p) {
    if (sorted.length === 0) return NaN;
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
}

export function median(xs) {
    const s = [...xs].sort((a, b) => a - b);
    const n = s.length;
    return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// {n, p50, p90, p99, max, mean} of samples in ms.
export function summary(xs) {
    const s = [...xs].sort((a, b) => a - b);
    return {
        n: s.length, p50: median(s), p90: pct(s, 0.9), p99: pct(s, 0.99),
        max: s[s.length - 1], mean: s.reduce((a, b) => a + b, 0) / s.length,
    };
}

export const ms = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

// psql(sql) -> stdout (tuples only, unaligned), as postgres on the
// stack's database "nano"; throws on an error.
export function psql(sql, { db = 'nano', extra = [] } = {}) {
    const r = spawnSync(PSQL, ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-h', PG_SOCK, '-U', 'postgres', '-d', db, ...extra],
        { input: sql, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr}\n${sql.slice(0, 500)}`);
    return r.stdout.trim();
}

// PostgreSQL's durability settings, as this run has them.
export function pgSettings() {
    const out = psql("SELECT name || '=' || setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method') ORDER BY name");
    return Object.fromEntries(out.split('\n').map((l) => l.split('=')));
}

export function pgSettingsLine() {
    const s = pgSettings();
    return `PostgreSQL: fsync=${s.fsync} synchronous_commit=${s.synchronous_commit} full_page_writes=${s.full_page_writes} wal_sync_method=${s.wal_sync_method}`;
}

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
export function checkId(id) {
    if (!ID_RE.test(id)) throw new Error(`unexpected user id ${JSON.stringify(id)}`);
    return id;
}

// Raises a user's balance by n credits, with the ledger row that keeps
// the ledger summing to the balance (the account is made if missing,
// with its signup grant, as the modules would make it).
export function grantCredits(userId, n) {
    checkId(userId);
    psql(`BEGIN;
WITH acc AS (INSERT INTO "CreditAccount" ("userId", "balance") VALUES ('${userId}', 100)
             ON CONFLICT ("userId") DO NOTHING RETURNING "userId")
INSERT INTO "CreditLedger" ("userId", "delta", "reason") SELECT "userId", 100, 'signup' FROM acc;
UPDATE "CreditAccount" SET "balance" = "balance" + ${Number(n)}, "updatedAt" = (now() AT TIME ZONE 'utc') WHERE "userId" = '${userId}';
INSERT INTO "CreditLedger" ("userId", "delta", "reason") VALUES ('${userId}', ${Number(n)}, 'grant');
COMMIT;`);
}

// The fake's /_fake/stats.
export async function fakeStats() {
    const r = await fetch(`${FAKE_URL}/_fake/stats`);
    return r.json();
}

export async function fakeReset() {
    await fetch(`${FAKE_URL}/_fake/reset`, { method: 'POST' });
}

// ---- CPU time of the stack's processes ------------------------------------

function readPid(state, name) {
    try {
        return Number(fs.readFileSync(`${state}/pids/${name}.pid`, 'utf8').split(' ')[0]) || null;
    } catch {
        return null;
    }
}

// pid -> parent pid, for every process
function parents() {
    const m = new Map();
    for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        try {
            const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
            m.set(Number(d), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]));
        } catch { /* gone */ }
    }
    return m;
}

// {name: [pids]} of the stack's processes: nginx (its workers), the
// given backends, postgres (every process of the cluster), the fake
export function stackProcesses(state, backends) {
    const par = parents();
    const children = (pid) => [...par].filter(([, pp]) => pp === pid).map(([p]) => p);
    const nginx = readPid(state, 'nginx');
    const pg = readPid(state, 'postgres');
    const out = { nginx: nginx ? children(nginx) : [], postgres: pg ? [pg, ...children(pg)] : [] };
    for (const b of backends) out[b] = [readPid(state, b)].filter(Boolean);
    out.fake = [readPid(state, 'fake-providers')].filter(Boolean);
    return out;
}

// ns each group spent on a CPU so far (every thread; /proc/.../schedstat)
export function cpuNs(groups) {
    const out = {};
    for (const [name, pids] of Object.entries(groups)) {
        let ns = 0;
        for (const pid of pids) {
            let tasks = [];
            try {
                tasks = fs.readdirSync(`/proc/${pid}/task`);
            } catch { continue; }
            for (const t of tasks) {
                try {
                    ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
                } catch { /* gone */ }
            }
        }
        out[name] = ns;
    }
    return out;
}
