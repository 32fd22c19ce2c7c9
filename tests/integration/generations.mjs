// Helpers for the tests of issue 6 (docs/MODULES.md: every module
// generates): users with their ids, the module API as JSON, waiting for a
// generation to end, the credit ledger through psql, the fake providers'
// counters, a module backend run with extra environment (NANO_JOBS_MAX=0
// keeps jobs queued), streamed answers read event by event with their
// arrival times, raw requests for the 413 checks, multipart bodies and
// small PNGs made here.
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import crypto from 'node:crypto';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
    BASE, ORIGIN, STATE, REGISTRY, request, get, signedInUser, stackctl, sleep,
    retry, stackPid,
} from './lib.mjs';
import { psql, lit, PG_SOCK, PSQL } from './accounts.mjs';
import { encodePng } from '../fakes/png.mjs';

export { psql, lit };

export const FAKE_URL = process.env.NANO_TEST_FAKE_URL || '';
export const MEDIA_DIR = process.env.NANO_TEST_MEDIA_DIR || `${STATE}/media`;
export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const FAKE_KEY = 'fake-provider-key';     // scripts/lib/stack.sh
export const FINAL = new Set(['succeeded', 'failed', 'canceled']);
export const JSON_H = { 'Content-Type': 'application/json', Origin: ORIGIN };
export const byName = Object.fromEntries(REGISTRY.map((m) => [m.name, m]));

// A registered, signed-in user with its id: {user, jar, id}.
export async function person(tag) {
    const u = await signedInUser(tag);
    return { ...u, id: u.me.id };
}

// Headers without those set to undefined (to drop a default).
export const clean = (h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined));

// POST /<m>/api/generate with a JSON body (an object is stringified).
export function generate(jar, m, body, headers = {}) {
    return request('POST', `/${m}/api/generate`, {
        headers: jar.headers(clean({ ...JSON_H, ...headers })),
        body: typeof body === 'string' ? body : JSON.stringify(body),
        timeout: 60000,
    });
}

export const generation = (jar, m, id, { port } = {}) => get(`/${m}/api/generations/${id}`, { headers: jar.headers(), port });
export const history = (jar, m, query = '') => get(`/${m}/api/history${query}`, { headers: jar.headers() });
export const credits = (jar, query = '') => get(`/api/credits${query}`, { headers: jar.headers() });

export function del(jar, m, id, headers = {}) {
    return request('DELETE', `/${m}/api/generations/${id}`, { headers: jar.headers(clean({ Origin: ORIGIN, ...headers })) });
}

export function cancel(jar, m, id, headers = {}) {
    return request('POST', `/${m}/api/generations/${id}/cancel`, {
        headers: jar.headers(clean({ ...JSON_H, ...headers })), body: '{}',
    });
}

// Polls GET /<m>/api/generations/{id} until done(row) (default: a final
// status) or ms pass; returns the last row.  Fails with the last answer.
// port: another site on 127.0.0.1.
export async function waitFor(jar, m, id, { ms = 30000, done = (g) => FINAL.has(g.status), port } = {}) {
    const end = Date.now() + ms;
    let last;
    for (;;) {
        const res = await generation(jar, m, id, { port });
        if (res.status !== 200) throw new Error(`GET /${m}/api/generations/${id}: ${res.status} ${res.text.slice(0, 200)}`);
        last = res.json();
        if (done(last)) return last;
        if (Date.now() > end) {
            throw new Error(`generation ${id} (${m}) still ${last.status} after ${ms} ms: ${JSON.stringify(last).slice(0, 300)}`);
        }
        await sleep(100);
    }
}

// Polls psql until sql answers something other than '' (or pred(out)).
export async function waitSql(sql, { ms = 15000, pred = (o) => o !== '' } = {}) {
    const end = Date.now() + ms;
    for (;;) {
        const out = psql(sql);
        if (pred(out)) return out;
        if (Date.now() > end) throw new Error(`after ${ms} ms, ${sql} still answers ${JSON.stringify(out)}`);
        await sleep(50);
    }
}

// A trigger that refuses generations' ends, as a database restarting
// would: while it is closed, an UPDATE of a row whose prompt holds mark
// to a status that `status` (SQL on NEW."status") admits raises message.
// It starts open.  {close(), open(), drop()}; name is its table's, its
// function's and its trigger's.
export function endGate(name, mark, status, message) {
    psql(`CREATE TABLE "${name}" ("x" int);
        CREATE FUNCTION "${name}"() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM "${name}") THEN
                RAISE EXCEPTION ${lit(message)};
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER "${name}"
            BEFORE UPDATE ON "Generation" FOR EACH ROW
            WHEN (NEW."prompt" LIKE ${lit(`%${mark}%`)} AND NEW."status" ${status})
            EXECUTE FUNCTION "${name}"();`);
    return {
        close: () => psql(`INSERT INTO "${name}" VALUES (1)`),
        open: () => psql(`DELETE FROM "${name}"`),
        drop: () => psql(`DROP TRIGGER IF EXISTS "${name}" ON "Generation";
            DROP FUNCTION IF EXISTS "${name}"();
            DROP TABLE IF EXISTS "${name}";`),
    };
}

// The generation's row as JSON (psql), or null.
export function row(id) {
    const out = psql(`SELECT row_to_json(g) FROM "Generation" g WHERE "id" = ${lit(id)}`);
    return out ? JSON.parse(out) : null;
}

// Ledger rows of one generation: [{reason, delta}], oldest first.
export function ledgerOf(genId) {
    const out = psql(`SELECT coalesce(json_agg(json_build_object('reason', "reason", 'delta', "delta",
        'userId', "userId", 'module', "module") ORDER BY "id"), '[]') FROM "CreditLedger" WHERE "generationId" = ${lit(genId)}`);
    return JSON.parse(out);
}

export function balanceOf(userId) {
    const out = psql(`SELECT "balance" FROM "CreditAccount" WHERE "userId" = ${lit(userId)}`);
    return out === '' ? null : Number(out);
}

// A user's ledger rows as GET /api/credits shows them, newest first.
export function ledgerRows(userId) {
    return JSON.parse(psql(`SELECT coalesce(json_agg(json_build_object('delta', "delta", 'reason', "reason",
        'module', "module", 'generationId', "generationId",
        'createdAt', to_char("createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'note', "note") ORDER BY "id" DESC), '[]')
        FROM "CreditLedger" WHERE "userId" = ${lit(userId)}`));
}

export function ledgerSum(userId) {
    return Number(psql(`SELECT coalesce(sum("delta"), 0) FROM "CreditLedger" WHERE "userId" = ${lit(userId)}`));
}

// Sets a balance the way an operator would: the account and a matching
// ledger row in one transaction, so the ledger still sums to the balance.
export function setBalance(userId, balance) {
    const u = lit(userId);
    psql(`BEGIN;
        INSERT INTO "CreditLedger" ("userId", "delta", "reason")
            SELECT ${u}, ${Number(balance)} - coalesce(sum("delta"), 0), 'adjustment'
            FROM "CreditLedger" WHERE "userId" = ${u};
        UPDATE "CreditAccount" SET "balance" = ${Number(balance)} WHERE "userId" = ${u};
        COMMIT;`);
}

// The price of a module's default model (the first of "ModelPrice").
export function price(m) {
    return Number(psql(`SELECT "credits" FROM "ModelPrice" WHERE "module" = ${lit(m)} ORDER BY "sort", "model" LIMIT 1`));
}

// ---- the fake providers ------------------------------------------------

export async function fakeStats() {
    if (!FAKE_URL) throw new Error('NANO_TEST_FAKE_URL is not set (run through make test)');
    let res;
    try {
        res = await fetch(`${FAKE_URL}/_fake/stats`);
    } catch (e) {
        // A kept connection the fake closed after its 5 s keep-alive while
        // this process's event loop sat in a spawnSync (psql, stackctl), so
        // fetch never saw the close: "fetch failed" (a CI run, 2026-12-07).
        // A GET, so asked once more on a new connection.
        if (!(e instanceof TypeError) || e.message !== 'fetch failed') throw e;
        res = await fetch(`${FAKE_URL}/_fake/stats`);
    }
    return res.json();
}

export const fakeCount = (stats, endpoint) => stats.requests[endpoint] || 0;

// A unique tag for prompts, so that "-once" markers and counts are ours.
export const tag = () => crypto.randomBytes(4).toString('hex');

// ---- one job against the fake (jobs_outputs, jobs_ark) ----------------

export const RETRIES = 2;                // NANO_JOBS_RETRIES
export const OUTPUT = /^0-[0-9a-f]{16}\.(webm|mp4|png)$/;

// Every file below dir (dot files too), relative to it; [] when dir is
// not there.
export function filesBelow(dir) {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => !e.isDirectory())
        .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)))
        .sort();
}

// Submits one job of m for a new person and waits for its end:
// {u, cost, id, g, before, after}, the last two the fake's counters.
export async function oneJob(m, who, prompt, ms = 30000) {
    assert.ok(byName[m], `${m} is in the registry`);
    const u = await person(who);
    const cost = price(m);
    const before = await fakeStats();
    const r = await generate(u.jar, m, { prompt: `${prompt} ${tag()}` });
    assert.equal(r.status, 202, r.text);
    const { id } = r.json();
    const g = await waitFor(u.jar, m, id, { ms });
    return { u, cost, id, g, before, after: await fakeStats() };
}

export const called = (j, endpoint) => fakeCount(j.after, endpoint) - fakeCount(j.before, endpoint);

// The job failed with code, was refunded once, and left no file.
export function failedClean(j, m, code) {
    assert.equal(j.g.status, 'failed', `no result: ${JSON.stringify(j.g)}`);
    assert.equal(j.g.error.code, code, JSON.stringify(j.g.error));
    assert.deepEqual(j.g.outputs, []);
    assert.deepEqual(ledgerOf(j.id).map((x) => [x.reason, Number(x.delta)]), [['debit', -j.cost], ['refund', j.cost]],
        'refunded once');
    assert.equal(balanceOf(j.u.id), 100);
    assert.equal(ledgerSum(j.u.id), 100);
    assert.deepEqual(filesBelow(path.join(MEDIA_DIR, m, j.u.id)), [], 'no partial file');
}

// ---- a backend with extra environment ----------------------------------

export const envFile = (app) => `${STATE}/env.d/${app}`;

// Runs fn with `lines` (["NANO_JOBS_MAX=0"]) added to env.d/<app> and the
// backend restarted; then puts the file back as it was and restarts again.
export async function withBackendEnv(app, lines, fn) {
    const file = envFile(app);
    const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${before ?? ''}${before && !before.endsWith('\n') ? '\n' : ''}${lines.join('\n')}\n`);
    try {
        stackctl('restart-backend', app);
        return await fn();
    } finally {
        if (before === null) fs.rmSync(file, { force: true });
        else fs.writeFileSync(file, before);
        stackctl('restart-backend', app);
    }
}

// The environment of the stack's backend for app (scripts/lib/stack.sh
// stack_backend_start), for a second process of our own.
export function backendEnv(app) {
    const env = {
        PATH: process.env.PATH,
        NEXTAUTH_URL: BASE,
        NANO_SECRET_FILE: process.env.NANO_TEST_KEYFILE || `${STATE}/keys`,
        DATABASE_URL: `postgresql://nano@localhost/nano?host=${process.env.NANO_TEST_PG_SOCK}`,
        NANO_ROOT: ROOT,
        NANO_REVOCATION_FILE: `${STATE}/revocations`,
        NANO_MEDIA_DIR: MEDIA_DIR,
    };
    if (fs.existsSync(envFile(app))) {
        for (const line of fs.readFileSync(envFile(app), 'utf8').split('\n')) {
            const mm = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
            if (mm) env[mm[1]] = mm[2];
        }
    }
    return env;
}

// A second process of app beside the stack's, with the stack's
// environment and `extra`, on a unix socket in a folder of its own, its
// log there; resolves once its job runner is up (the platform: once it
// serves; it publishes its revocations in that folder, not over the
// stack's): {child, pid, sock, logFile, log(), stop()}.  stop() ends it
// (TERM, KILL after 10 s) and removes the folder.
export async function secondBackend(app, extra = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-jobs-'));
    const sock = path.join(dir, 'second.sock');
    const logFile = path.join(dir, 'second.log');
    const out = fs.openSync(logFile, 'a');
    const own = app === 'platform' ? { NANO_REVOCATION_FILE: path.join(dir, 'revocations') } : {};
    const child = spawn(path.join(ROOT, `build/bin/nano-${app}`), ['--listen', `unix:${sock}`], {
        env: { ...backendEnv(app), ...own, ...extra }, stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
    const log = () => fs.readFileSync(logFile, 'utf8');
    const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        if (await Promise.race([exited, sleep(10000).then(() => null)]) === null) {
            child.kill('SIGKILL');
            await exited;
        }
        fs.rmSync(dir, { recursive: true, force: true });
    };
    const ready = app === 'platform' ? 'serving platform on ' : `jobs: runner for ${app} `;
    const up = await retry(() => fs.existsSync(sock) && log().includes(ready), 10000, 50);
    if (!up) {
        const said = log().slice(-500);
        await stop();
        throw new Error(`the second ${app} did not start: ${said}`);
    }
    return { child, pid: child.pid, sock, logFile, log, stop };
}

// ---- streamed answers ----------------------------------------------------

// Parses SSE text into [{event, data}] (data JSON-parsed when it can be).
export function parseSse(text) {
    const events = [];
    for (const block of text.split(/\r?\n\r?\n/)) {
        let event = 'message';
        const data = [];
        let any = false;
        for (const line of block.split(/\r?\n/)) {
            if (line === '' || line.startsWith(':')) continue;
            const i = line.indexOf(':');
            const k = i < 0 ? line : line.slice(0, i);
            const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
            if (k === 'event') { event = v; any = true; }
            if (k === 'data') { data.push(v); any = true; }
        }
        if (!any) continue;
        const raw = data.join('\n');
        let parsed = raw;
        try { parsed = JSON.parse(raw); } catch { /* keep the text */ }
        events.push({ event, data: parsed });
    }
    return events;
}

// stream(jar, m, body, {leaveAfter}): POST /<m>/api/generate and reads the
// answer as it arrives: {status, headers, text, chunks: [{at, text}],
// events: [{event, data, at}]}; at is ms since the request was sent.
// leaveAfter: n -> the socket is destroyed once n delta events came (0: as
// soon as the response's headers came).  port: another nginx on loopback;
// onEvent(e): called with each event as it comes.
export function stream(jar, m, body, { leaveAfter, timeout = 60000, headers = {}, port, onEvent } = {}) {
    const url = new URL(BASE);
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
        const t0 = performance.now();
        const req = http.request({
            host: url.hostname, port: port || url.port, method: 'POST', path: `/${m}/api/generate`, agent: false,
            headers: jar.headers({ ...JSON_H, 'Content-Length': Buffer.byteLength(payload), ...headers }),
        }, (res) => {
            const chunks = [];
            const events = [];
            let buf = '';
            let left = false;
            const headersAt = performance.now() - t0;
            const finish = () => resolve({
                status: res.statusCode, headers: res.headers, text: chunks.map((c) => c.text).join(''),
                chunks, events, left, headersAt,
            });
            res.setEncoding('utf8');
            if (leaveAfter === 0) {
                left = true;
                req.destroy();
                finish();
                return;
            }
            res.on('data', (d) => {
                const at = performance.now() - t0;
                chunks.push({ at, text: d });
                buf += d;
                let i;
                while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
                    const block = buf.slice(0, i);
                    buf = buf.slice(buf.slice(i).match(/^\r?\n\r?\n/)[0].length + i);
                    for (const e of parseSse(`${block}\n\n`)) {
                        events.push({ ...e, at });
                        onEvent?.(events.at(-1));
                    }
                }
                if (leaveAfter && !left && events.filter((e) => e.event === 'delta').length >= leaveAfter) {
                    left = true;
                    req.destroy();
                    finish();
                }
            });
            res.on('end', () => { if (!left) finish(); });
            res.on('error', (e) => { if (!left) reject(e); });
        });
        req.setTimeout(timeout, () => req.destroy(new Error(`timeout after ${timeout} ms: stream ${m}`)));
        req.on('error', (e) => { if (e.code !== 'ECONNRESET' || !req.destroyed) reject(e); });
        req.end(payload);
    });
}

// ---- raw requests (bodies nginx refuses before they arrive) -------------

// Sends the request line and headers (with this Content-Length) and at
// most `send` bytes of body (or the bytes of `body`), then reads the
// answer: {status, headers, text}.
export function rawRequest(method, p, headers, contentLength, { send = 0, body, timeout = 20000 } = {}) {
    const url = new URL(BASE);
    return new Promise((resolve, reject) => {
        const sock = net.connect(Number(url.port), url.hostname);
        let data = Buffer.alloc(0);
        let done = false;
        const timer = setTimeout(() => { sock.destroy(); reject(new Error(`raw ${method} ${p}: timeout`)); }, timeout);
        const tryParse = (final) => {
            const sep = data.indexOf('\r\n\r\n');
            if (sep < 0) {
                if (final) reject(new Error(`raw ${method} ${p}: no answer (${data.length} bytes)`));
                return;
            }
            const head = data.subarray(0, sep).toString('latin1').split('\r\n');
            const status = Number(head[0].split(' ')[1]);
            const h = {};
            for (const l of head.slice(1)) {
                const i = l.indexOf(':');
                h[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
            }
            const body = data.subarray(sep + 4);
            const len = h['content-length'] !== undefined ? Number(h['content-length']) : null;
            if (!final && (len === null || body.length < len)) return;
            done = true;
            clearTimeout(timer);
            sock.destroy();
            const text = body.subarray(0, len ?? body.length).toString('utf8');
            resolve({ status, headers: h, text, json: () => JSON.parse(text) });
        };
        sock.on('connect', () => {
            const lines = [`${method} ${p} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close',
                `Content-Length: ${contentLength}`];
            // an array value is that header sent once per element
            for (const [k, v] of Object.entries(headers)) for (const x of [].concat(v)) lines.push(`${k}: ${x}`);
            sock.write(`${lines.join('\r\n')}\r\n\r\n`);
            if (send > 0) sock.write(Buffer.alloc(send, 0x61), () => {});
            if (body) sock.write(body, () => {});
        });
        sock.on('data', (d) => { data = Buffer.concat([data, d]); if (!done) tryParse(false); });
        sock.on('error', () => { if (!done) tryParse(true); });
        sock.on('close', () => { if (!done) tryParse(true); });
    });
}

// ---- bodies ---------------------------------------------------------------

// multipart({field: value}, [{name, filename, type, data}]) -> {body, type}
// fields: an object, or [name, value] pairs (a name may come twice).
export function multipart(fields = {}, files = []) {
    const boundary = `----nano${crypto.randomBytes(8).toString('hex')}`;
    const parts = [];
    for (const [k, v] of Array.isArray(fields) ? fields : Object.entries(fields)) {
        parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
    }
    for (const f of files) {
        parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"; filename="${f.filename}"\r\n`
            + `Content-Type: ${f.type}\r\n\r\n`), Buffer.from(f.data), Buffer.from('\r\n'));
    }
    parts.push(Buffer.from(`--${boundary}--\r\n`));
    return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

// A real RGB PNG of w x h (a gradient), made here.
export function png(w = 32, h = 24) {
    return encodePng(w, h, (x, y) => [(x * 255) / w, (y * 255) / h, 128]);
}

export const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// The "file" of each output of a row, as absolute paths in the media dir.
export function outputFiles(id) {
    const r = row(id);
    return (r?.outputs || []).map((o) => path.join(MEDIA_DIR, o.file));
}

// Every log line of the backends in $STATE/logs.
export function logsDir() {
    return `${STATE}/logs`;
}

// The sync and rename system calls the stack's process app makes while
// fn runs (strace -f -y: each line names its file): {calls: the lines,
// value: what fn gave}; null, with t skipped, when strace is missing.
export async function traceSyncs(t, app, fn) {
    const strace = spawnSync('sh', ['-c', 'command -v strace'], { encoding: 'utf8' }).stdout.trim();
    if (!strace) {
        t.skip('strace is not installed');
        return null;
    }
    const out = path.join(STATE, `strace-${app}-${tag()}.txt`);
    const tracer = spawn(strace, ['-f', '-y', '-qq', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2',
        '-o', out, '-p', String(stackPid(app))], { stdio: ['ignore', 'ignore', 'pipe'] });
    let said = '';
    tracer.stderr.on('data', (d) => { said += d; });
    const exited = new Promise((r) => tracer.on('exit', r));
    let value;
    try {
        // attached to every thread once the file has been made
        assert.ok(await retry(() => fs.existsSync(out), 5000, 50), `strace attached: ${said}`);
        await sleep(500);
        value = await fn();
    } finally {
        tracer.kill('SIGINT');
        await exited;
    }
    const calls = fs.readFileSync(out, 'utf8').split('\n');
    fs.rmSync(out, { force: true });
    return { calls, value };
}

// A psql session of the test's own that runs sql, which prints 'held'
// once it holds what it takes (a row lock, an advisory lock), and keeps
// it: {write(sql) more on the same session, release(sql) the last
// statements (COMMIT by default) and the session's end}.
export async function holdInPsql(sql) {
    const holder = spawn(PSQL, ['-X', '-q', '-tA', '-h', PG_SOCK, '-U', 'nano', '-d', 'nano'],
        { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    holder.stdout.on('data', (d) => { out += d; });
    holder.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((r) => holder.on('exit', r));
    holder.stdin.write(`${sql}\n`);
    for (let i = 0; i < 100 && !out.includes('held'); i++) await sleep(50);
    assert.match(out, /held/, `the test's session holds it: ${out}`);
    return {
        write: (more) => holder.stdin.write(`${more}\n`),
        release: async (last = 'COMMIT;') => {
            holder.stdin.end(`${last}\n`);
            await exited;
        },
    };
}

// A row lock on a user's row of table (column col) until release().
export async function lockRow(table, col, userId) {
    const h = await holdInPsql(`BEGIN;
        SELECT 'held' FROM "${table}" WHERE "${col}" = ${lit(userId)} FOR UPDATE;`);
    return () => h.release();
}

// A session that holds a user's balance row until the returned release().
export const lockBalance = (userId) => lockRow('CreditAccount', 'userId', userId);

// ---- the account's export (export_stream, export_pages) ----------------------------

// The platform's resident memory, in KiB.
export function platformRss() {
    const pid = stackPid('platform');
    assert.ok(pid, 'the platform\'s pid');
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

// n finished text generations of u, each ~8 KB of answer with quotes and
// line breaks to escape; three share each creation time, so the pages
// the export reads split ties on "id".
export function bulkGenerations(u, n) {
    psql(`INSERT INTO "Generation" ("id", "userId", "module", "model", "kind", "status", "cost", "prompt", "text", "createdAt", "finishedAt")
        SELECT md5(${lit(u.id)} || i)::uuid::text, ${lit(u.id)}, 'qwen', 'm', 'text', 'succeeded', 1,
            'question ' || i, i || repeat(' an "exported" answer' || chr(10), 400),
            timestamp '2026-01-01' + (i / 3) * interval '1 ms', timestamp '2026-01-01'
        FROM generate_series(1, ${n}) AS i`);
}

// The ids newest first as the export must list them, hashed.
export function expectedOrder(u) {
    return psql(`SELECT md5(string_agg("id", ',' ORDER BY "createdAt" DESC, "id" DESC)) FROM "Generation" WHERE "userId" = ${lit(u.id)}`);
}

// GET the export (or another download: path); onChunk(res, bytes) sees
// each chunk as it comes.  Resolves {status, headers, body, firstByteMs,
// ms, aborted}.
export function exportOf(jar, { onChunk, timeout = 120000, path = '/api/account/export' } = {}) {
    const url = new URL(BASE);
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
        const req = http.get({
            host: url.hostname, port: url.port, path, headers: jar.headers(), agent: false,
        }, (res) => {
            const chunks = [];
            let bytes = 0;
            let firstByteMs;
            let settled = false;
            const finish = (aborted) => {
                if (settled) return;
                settled = true;
                resolve({
                    status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'),
                    firstByteMs, ms: Date.now() - t0, aborted,
                });
            };
            res.on('data', (c) => {
                if (firstByteMs === undefined) firstByteMs = Date.now() - t0;
                chunks.push(c);
                bytes += c.length;
                if (onChunk) onChunk(res, bytes);
            });
            res.on('end', () => finish(false));
            res.on('aborted', () => finish(true));
            res.on('error', () => finish(true));
            res.on('close', () => finish(!res.complete));
        });
        req.setTimeout(timeout, () => req.destroy(new Error(`export: timeout after ${timeout} ms`)));
        req.on('error', reject);
    });
}

// A download cut by its database: read until pauseAfter bytes came, then
// pause while the platform's connection running a statement LIKE
// queryLike (in a transaction) is terminated, then read on.  Resolves
// exportOf's answer.
export async function exportCutByDatabase(jar, { path, pauseAfter, queryLike }) {
    let paused = false;
    let resume;
    const resumed = new Promise((r) => { resume = r; });
    const pending = exportOf(jar, {
        path,
        onChunk: (res, bytes) => {
            if (!paused && bytes > pauseAfter) {
                paused = true;
                res.pause();
                resumed.then(() => res.resume());
            }
        },
    });
    try {
        let killed = '';
        for (let i = 0; i < 200 && killed === ''; i++) {
            await sleep(25);
            if (!paused) continue;
            killed = psql(`SELECT string_agg(pg_terminate_backend("pid")::text, ',') FROM pg_stat_activity
                WHERE "pid" <> pg_backend_pid() AND "xact_start" IS NOT NULL
                AND "query" LIKE ${lit(queryLike)}`);
        }
        assert.equal(killed, 'true', 'the download\'s one connection was found and terminated');
    } finally {
        resume();
    }
    return pending;
}
