// GET /api/account/export and GET /api/credits.csv in pages (docs/PLATFORM.md
// "Data export", "Ledger"): the export's sessions, ledger and purchases
// were each read whole and built in the platform's memory before its
// first byte (the ledger one json_agg), and the CSV was one buffer, so
// the platform grew with the account.  Here: a small account's file is
// byte for byte what it always was; a heavy account's export and CSV come
// whole in little memory; one download at a time per user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get, request } from './lib.mjs';
import {
    psql, lit, person, platformRss, bulkGenerations, exportOf, exportCutByDatabase, holdInPsql, waitSql,
} from './generations.mjs';

const MIB = 1024 * 1024;

// The export's file of a small account, byte for byte as it always was
// (jansson's compact form, keys in their order): JSON.stringify writes
// that form, so the expected file is built here from the database and
// compared whole.  The rows hold quotes, a line break and non-ASCII.
test('GET /api/account/export: a small account\'s file is byte for byte the compact JSON it always was', async () => {
    const u = await person('export-bytes');
    const uid = lit(u.id);
    psql([`INSERT INTO "AuthSession" ("id", "userId", "createdAt", "lastSeenAt", "ipAddress", "userAgent", "expires")
            VALUES (${lit(`s1-${u.id}`)}, ${uid}, timestamp '2026-01-02 03:04:05.678', timestamp '2026-01-03', '192.0.2.7',
                    'Mozilla "quoted" ü', extract(epoch FROM now())::bigint + 3600),
                   (${lit(`s2-${u.id}`)}, ${uid}, timestamp '2026-01-01', timestamp '2026-01-01', NULL, NULL,
                    extract(epoch FROM now())::bigint + 3600)`,
        `INSERT INTO "CreditLedger" ("userId", "delta", "reason", "module", "generationId", "note")
            VALUES (${uid}, 5, 'grant', NULL, NULL, E'for the "outage"\\n— sorry'),
                   (${uid}, -2, 'debit', 'qwen', 'g-1', NULL)`,
        `INSERT INTO "Purchase" ("id", "userId", "pack", "credits", "amount", "currency", "idempotencyKey",
                "stripeSessionId", "paymentIntent", "status", "createdAt", "paidAt")
            VALUES (${lit(`p1-${u.id}`)}, ${uid}, 'starter', 100, 500, 'usd', ${lit(`k1-${u.id}`)},
                    ${lit(`cs_${u.id}`)}, ${lit(`pi_${u.id}`)}, 'paid', timestamp '2026-01-04', timestamp '2026-01-04 00:00:01'),
                   (${lit(`p2-${u.id}`)}, ${uid}, 'starter', 100, 500, 'usd', ${lit(`k2-${u.id}`)},
                    NULL, NULL, 'pending', timestamp '2026-01-05', NULL)`]);
    bulkGenerations(u, 3);
    const iso = (c) => `to_char(${c}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
    const fromDb = (sql) => JSON.parse(psql(sql));
    const r = await exportOf(u.jar);
    assert.equal(r.status, 200, r.body.slice(0, 300));
    const x = JSON.parse(r.body);
    const want = {
        exportedAt: x.exportedAt,
        profile: fromDb(`SELECT json_build_object('id', "id", 'email', "email", 'name', "name", 'image', "image",
            'emailVerified', ${iso('"emailVerified"')}, 'createdAt', ${iso('"createdAt"')}) FROM "User" WHERE "id" = ${uid}`),
        accounts: [],
        sessions: fromDb(`SELECT json_agg(json_build_object('id', "id", 'current', "id" NOT LIKE 's_-%',
            'createdAt', ${iso('"createdAt"')}, 'lastSeenAt', ${iso('"lastSeenAt"')}, 'ipAddress', "ipAddress",
            'userAgent', "userAgent") ORDER BY "lastSeenAt" DESC, "id") FROM "AuthSession" WHERE "userId" = ${uid}`),
        credits: {
            balance: Number(psql(`SELECT "balance" FROM "CreditAccount" WHERE "userId" = ${uid}`)),
            ledger: fromDb(`SELECT json_agg(json_build_object('delta', "delta", 'reason', "reason", 'module', "module",
                'generationId', "generationId", 'createdAt', ${iso('"createdAt"')}, 'note', "note") ORDER BY "id")
                FROM "CreditLedger" WHERE "userId" = ${uid}`),
            purchases: fromDb(`SELECT json_agg(json_build_object('id', "id", 'pack', "pack", 'credits', "credits",
                'amount', "amount", 'currency', "currency", 'status', "status", 'amountRefunded', "amountRefunded",
                'creditsTakenBack', "creditsTakenBack", 'stripeSessionId', "stripeSessionId", 'paymentIntent', "paymentIntent",
                'createdAt', ${iso('"createdAt"')}, 'paidAt', ${iso('"paidAt"')}) ORDER BY "createdAt", "id")
                FROM "Purchase" WHERE "userId" = ${uid}`),
        },
        // as nano_gen_json writes them: checked apart (the streamed part)
        generations: x.generations,
    };
    assert.equal(want.sessions.length, 3);
    assert.equal(want.sessions.filter((s) => s.current).length, 1);
    assert.equal(want.credits.ledger.length, 3);
    assert.equal(x.generations.length, 3);
    assert.equal(r.body, JSON.stringify(want));
    psql(`DELETE FROM "Generation" WHERE "userId" = ${uid}`);
});

// A heavy account: 100,000 ledger rows and 20,000 sessions.  The
// ledger was one json_agg, the sessions one result, each parsed whole
// into jansson and dumped as one string before the first byte went out,
// and the CSV one buffer: the platform grew with the account.  Both
// files come whole and parse, the platform's memory stays flat.
function bulkLedger(u, n) {
    psql(`INSERT INTO "CreditLedger" ("userId", "delta", "reason", "module", "generationId", "note")
        SELECT ${lit(u.id)}, 0, 'adjustment', 'qwen', md5(i::text), 'row ' || i || repeat(' a "noted", adjustment', 6)
        FROM generate_series(1, ${n}) AS i`);
}

function bulkSessions(u, n) {
    psql(`INSERT INTO "AuthSession" ("id", "userId", "createdAt", "lastSeenAt", "ipAddress", "userAgent", "expires")
        SELECT 'bulk-' || md5(${lit(u.id)} || i), ${lit(u.id)}, timestamp '2026-01-01' + i * interval '1 s',
            timestamp '2026-01-01' + i * interval '1 s', '192.0.2.1', 'curl/8.0 ' || repeat('x', 200),
            extract(epoch FROM now())::bigint + 3600
        FROM generate_series(1, ${n}) AS i`);
}

// The platform's peak growth (bytes) while fn runs.
async function peakGrowth(fn) {
    const before = platformRss();
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, platformRss()); }, 10);
    try {
        return { result: await fn(), grown: (peak - before) * 1024 };
    } finally {
        clearInterval(sampler);
    }
}

test('a heavy account (100,000 ledger rows, 20,000 sessions): the export and the CSV come whole in little memory', async (t) => {
    const u = await person('export-heavy');
    const LEDGER = 100000;
    const SESSIONS = 20000;
    bulkLedger(u, LEDGER);
    bulkSessions(u, SESSIONS);
    try {
        const ex = await peakGrowth(() => exportOf(u.jar));
        const r = ex.result;
        assert.equal(r.status, 200, r.body.slice(0, 300));
        const x = JSON.parse(r.body);
        assert.equal(x.credits.ledger.length, LEDGER + 1, 'the signup grant and every row');
        assert.equal(x.credits.ledger[0].reason, 'signup');
        assert.equal(x.credits.ledger[LEDGER].note, `row ${LEDGER}${' a "noted", adjustment'.repeat(6)}`);
        assert.equal(x.sessions.length, SESSIONS + 1);
        assert.equal(x.sessions[0].current, true, 'this one, the last seen');
        assert.equal(x.sessions[SESSIONS].id, `bulk-${psql(`SELECT md5(${lit(u.id)} || 1)`)}`, 'the one seen longest ago last');
        const size = Buffer.byteLength(r.body);
        t.diagnostic(`export: ${(size / MIB).toFixed(1)} MiB, the platform grew by ${(ex.grown / MIB).toFixed(1)} MiB`);
        assert.ok(ex.grown < 8 * MIB, `the platform grew by ${(ex.grown / MIB).toFixed(1)} MiB for a ${(size / MIB).toFixed(1)} MiB file`);

        const csv = await peakGrowth(() => get('/api/credits.csv', { headers: u.jar.headers(), timeout: 60000 }));
        assert.equal(csv.result.status, 200);
        assert.match(csv.result.headers['content-type'], /^text\/csv; charset=utf-8$/);
        assert.match(csv.result.headers['content-disposition'], /^attachment; filename="credits-\d{4}-\d\d-\d\d\.csv"$/);
        const lines = csv.result.text.split('\r\n');
        assert.equal(lines.length, 1 + LEDGER + 1 + 1);
        assert.equal(lines[0], 'createdAt,delta,reason,module,generationId,note');
        assert.match(lines[1], /,\d+,signup,,,$/);
        assert.ok(lines[LEDGER + 1].endsWith(`,0,adjustment,qwen,${psql(`SELECT md5('${LEDGER}')`)},"row ${LEDGER}${' a ""noted"", adjustment'.repeat(6)}"`),
            lines[LEDGER + 1]);
        assert.equal(lines[LEDGER + 2], '', 'the last line ends with CRLF');
        const csvSize = Buffer.byteLength(csv.result.text);
        t.diagnostic(`CSV: ${(csvSize / MIB).toFixed(1)} MiB, the platform grew by ${(csv.grown / MIB).toFixed(1)} MiB`);
        assert.ok(csv.grown < 4 * MIB, `the platform grew by ${(csv.grown / MIB).toFixed(1)} MiB for a ${(csvSize / MIB).toFixed(1)} MiB CSV`);
    } finally {
        psql([`DELETE FROM "CreditLedger" WHERE "userId" = ${lit(u.id)} AND "reason" = 'adjustment'`,
            `DELETE FROM "AuthSession" WHERE "userId" = ${lit(u.id)} AND "id" LIKE 'bulk-%'`]);
    }
});

// A download whose reader pauses after its first bytes, so it stays
// open writing: {begun (resolves once bytes came), resume(), done}.
function held(jar, path) {
    let begun;
    let resume = () => {};
    const started = new Promise((r) => { begun = r; });
    let paused = false;
    const done = exportOf(jar, {
        path,
        onChunk: (res) => {
            if (paused) return;
            paused = true;
            res.pause();
            resume = () => res.resume();
            begun();
        },
    });
    done.then(() => begun());
    return { started, resume: () => resume(), done };
}

// Nothing bounded one user's downloads but the platform's four export
// places: a user who started many at once held them all, each with a
// database connection and a worker, and everyone else's export answered
// 429 meanwhile.  One of each kind (the export, the CSV) at a time per
// user now, whichever platform process writes it.
test('one export and one CSV at a time per user: a second of either answers 429 export_in_progress, another user\'s goes on', async () => {
    const a = await person('export-one');
    const b = await person('export-other');
    bulkGenerations(a, 3000);
    bulkLedger(a, 60000);
    const first = held(a.jar, '/api/account/export');
    const csv = held(a.jar, '/api/credits.csv');
    try {
        await Promise.all([first.started, csv.started]);
        for (const path of ['/api/account/export', '/api/credits.csv']) {
            const again = await exportOf(a.jar, { path, timeout: 5000 });
            assert.equal(again.status, 429, `${path}: ${again.body.slice(0, 200)}`);
            assert.equal(JSON.parse(again.body).error, 'export_in_progress');
            assert.equal(again.headers['retry-after'], '5');
            // the pages' HEAD before the link says the same
            const head = await request('HEAD', path, { headers: a.jar.headers(), timeout: 5000 });
            assert.equal(head.status, 429, `HEAD ${path}`);
            assert.equal(head.headers['retry-after'], '5', `HEAD ${path}`);
        }
        const other = await exportOf(b.jar, { timeout: 10000 });
        assert.equal(other.status, 200, other.body.slice(0, 200));
        assert.equal(JSON.parse(other.body).profile.id, b.id);
        assert.equal((await get('/api/credits.csv', { headers: b.jar.headers(), timeout: 10000 })).status, 200);
    } finally {
        first.resume();
        csv.resume();
    }
    const whole = await first.done;
    assert.equal(whole.status, 200);
    assert.equal(JSON.parse(whole.body).generations.length, 3000);
    const sheet = await csv.done;
    assert.equal(sheet.status, 200);
    assert.equal(sheet.body.split('\r\n').length, 1 + 60001 + 1);
    // the lock went with the download
    assert.equal((await exportOf(a.jar)).status, 200);
    assert.equal((await get('/api/credits.csv', { headers: a.jar.headers(), timeout: 30000 })).status, 200);
    psql([`DELETE FROM "Generation" WHERE "userId" = ${lit(a.id)}`,
        `DELETE FROM "CreditLedger" WHERE "userId" = ${lit(a.id)} AND "reason" = 'adjustment'`]);
});

// The pages ask a download's HEAD before its link (module.js,
// checkedDownload).  The HEAD took the user's lock and an export place
// for as long as it read, so a download the user started meanwhile (from
// another tab) was refused as the second one.  Here the HEAD's read
// waits on a table lock the test holds, and the download starts then.
test('a HEAD of the export takes no place: a download started while it reads goes on', async () => {
    const a = await person('export-head');
    const holder = await holdInPsql(`BEGIN; LOCK TABLE "Account" IN ACCESS EXCLUSIVE MODE; SELECT 'held';`);
    let head;
    let download;
    try {
        head = request('HEAD', '/api/account/export', { headers: a.jar.headers(), timeout: 30000 });
        await waitSql(`SELECT 1 FROM pg_stat_activity WHERE "wait_event_type" = 'Lock' AND "query" LIKE '%"Account"%'`);
        download = exportOf(a.jar, { timeout: 30000 });
        // the download waits on the table as the HEAD does, or was refused
        const waiting = () => psql(`SELECT count(*) FROM pg_stat_activity WHERE "wait_event_type" = 'Lock'
            AND "query" LIKE '%"Account"%'`) === '2';
        const early = await Promise.race([download, (async () => {
            for (let i = 0; i < 100 && !waiting(); i++) await new Promise((r) => setTimeout(r, 50));
            return null;
        })()]);
        assert.equal(early, null, `the download was answered while the HEAD read: ${early?.status} ${early?.body.slice(0, 200)}`);
    } finally {
        await holder.release();
    }
    assert.equal((await head).status, 200);
    const whole = await download;
    assert.equal(whole.status, 200, whole.body.slice(0, 200));
    assert.equal(JSON.parse(whole.body).profile.id, a.id);
});

// The CSV has no closing mark: every row ends at a CRLF, so a file cut
// at a row's end by a failure would look whole.  Its database connection
// is terminated while the reader pauses; the response must end cut short
// (no last chunk), never as a complete shorter file.
test('GET /api/credits.csv: the database failing mid-stream cuts the response short; the next CSV is whole', async () => {
    const u = await person('export-csv-cut');
    const N = 60000;
    bulkLedger(u, N);
    const r = await exportCutByDatabase(u.jar, {
        path: '/api/credits.csv',
        pauseAfter: 256 * 1024,
        queryLike: '%FROM "CreditLedger" WHERE "userId" = $1 AND "id" > $2::bigint%',
    });
    assert.equal(r.status, 200, 'the headers had gone out');
    assert.ok(r.body.startsWith('createdAt,delta,reason,module,generationId,note\r\n'));
    assert.ok(r.aborted, 'the response was cut short, not ended as a whole file');
    assert.ok(r.body.split('\r\n').length < N, 'rows are missing');
    const again = await get('/api/credits.csv', { headers: u.jar.headers(), timeout: 30000 });
    assert.equal(again.status, 200);
    assert.equal(again.text.split('\r\n').length, 1 + N + 1 + 1);
    psql(`DELETE FROM "CreditLedger" WHERE "userId" = ${lit(u.id)} AND "reason" = 'adjustment'`);
});
