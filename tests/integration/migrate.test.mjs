// The migration runner against the test stack's real PostgreSQL: a plan
// changes nothing, --apply applies in order and records, a rerun has
// nothing to do, a V1 database keeps its rows and is not re-created, a
// Prisma URL with ?schema= works, and non-additive or edited migrations
// are refused.  Each test makes a database of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { retry } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MIGRATE = path.join(ROOT, 'build/bin/nano-migrate');
const SQL = path.join(ROOT, 'sql');
const SOCK = process.env.NANO_TEST_PG_SOCK || '';
const PSQL = path.join(process.env.NANO_TEST_PG_BINDIR || '/usr/lib/postgresql/15/bin', 'psql');
const MIGRATIONS = fs.readdirSync(SQL).filter((f) => /^\d{3}_.*\.sql$/.test(f)).sort();

function psql(db, sql) {
    const r = spawnSync(PSQL, ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', SOCK, '-U', 'postgres',
        '-d', db, '-c', sql], { encoding: 'utf8' });
    assert.equal(r.status, 0, `psql ${sql}: ${r.stderr}`);
    return r.stdout.trim();
}

function psqlFile(db, file, schema) {
    const text = (schema ? `SET search_path TO "${schema}";\n` : '') + fs.readFileSync(file, 'utf8');
    const r = spawnSync(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', SOCK, '-U', 'postgres', '-d', db],
        { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
}

function newDb() {
    const name = `mig_${crypto.randomBytes(4).toString('hex')}`;
    psql('postgres', `CREATE DATABASE ${name}`);
    return name;
}

function migrate(db, args = [], { dir = SQL, query = '' } = {}) {
    const url = `postgresql://postgres@localhost/${db}?host=${encodeURIComponent(SOCK)}${query}`;
    const r = spawnSync(MIGRATE, [...args, '--dir', dir], {
        encoding: 'utf8', env: { ...process.env, DATABASE_URL: url }, timeout: 60000,
    });
    return { status: r.status, out: r.stdout, err: r.stderr };
}

function tables(db, schema = 'public') {
    return psql(db, `SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables
                     WHERE table_schema = '${schema}'`);
}

// A copy of sql/ we may add to or edit.
// sql/ copied, the files keep() takes (all by default)
function sqlCopy(keep = () => true) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-sql-'));
    for (const f of MIGRATIONS.filter(keep)) fs.copyFileSync(path.join(SQL, f), path.join(dir, f));
    return dir;
}

test('the runner needs the test stack cluster', () => {
    assert.ok(SOCK, 'NANO_TEST_PG_SOCK is set by scripts/test.sh');
    assert.ok(fs.existsSync(MIGRATE), 'build/bin/nano-migrate is built');
    assert.ok(MIGRATIONS.length >= 2 && MIGRATIONS[0] === '000_v1_baseline.sql', MIGRATIONS.join(' '));
});

test('without --apply the plan is printed and nothing changes', () => {
    const db = newDb();
    const r = migrate(db);
    assert.equal(r.status, 0, r.err);
    for (const f of MIGRATIONS) assert.match(r.out, new RegExp(`pending\\s+${f.replace('.', '\\.')}`));
    assert.match(r.out, new RegExp(`plan: ${MIGRATIONS.length} to apply`));
    assert.match(r.out, /--apply/);
    assert.equal(tables(db), '', 'no table, not even the record table');
});

test('--apply applies in order and records; a rerun has nothing to do', () => {
    const db = newDb();
    let r = migrate(db, ['--apply']);
    assert.equal(r.status, 0, r.err);
    // V1's tables and the record table, next to whatever V2 adds
    const have = tables(db).split(',');
    for (const t of ['Account', 'Session', 'User', 'VerificationToken', '_nano_migrations']) {
        assert.ok(have.includes(t), `${t} in ${have}`);
    }
    assert.equal(psql(db, 'SELECT string_agg(name, \',\' ORDER BY name) FROM "_nano_migrations"'),
        MIGRATIONS.join(','));
    assert.equal(psql(db, `SELECT count(*) FROM information_schema.columns
                           WHERE table_name = 'User' AND column_name = 'createdAt'`), '1');

    r = migrate(db, ['--apply']);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, new RegExp(`plan: nothing to do \\(${MIGRATIONS.length} applied\\)`));
});

// On SQL_ASCII (what initdb picks under the C locale: a Debian cluster
// made without a locale) PostgreSQL counts bytes, so the dashboard's
// left("prompt", 200) cut a character in two and the recent activity's
// JSON did not parse; another encoding refuses or converts UTF-8.
test('a database whose encoding is not UTF8 is refused, naming it, and nothing is applied', () => {
    for (const enc of ['SQL_ASCII', 'LATIN1']) {
        const db = `mig_${crypto.randomBytes(4).toString('hex')}`;
        psql('postgres', `CREATE DATABASE ${db} ENCODING '${enc}' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'`);
        if (enc === 'SQL_ASCII') {
            // what the platform would meet there: a character cut in two
            assert.equal(psql(db, "SELECT octet_length(left('ab\u00e9', 3))"), '3', 'left() kept half of the \u00e9');
        }
        for (const args of [[], ['--apply']]) {
            const r = migrate(db, args);
            assert.notEqual(r.status, 0, `${enc} ${args}: ${r.out}`);
            assert.match(r.err, new RegExp(`the database's encoding is ${enc}, not UTF8: .*createdb -E UTF8 --lc-ctype=C\\.UTF-8 -T template0`), `${enc} ${args}`);
            assert.equal(tables(db), '', `${enc} ${args}: no table, not even the record table`);
        }
    }
});

test('a V1 database: the baseline is recognised, not re-run, and its rows stay', () => {
    const db = newDb();
    psqlFile(db, path.join(SQL, '000_v1_baseline.sql'));
    psql(db, `INSERT INTO "User" (id, email, password) VALUES ('v1user', 'old@example.com', '$2a$10$x')`);

    let r = migrate(db);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /present\s+000_v1_baseline\.sql/);
    assert.match(r.out, /pending\s+001_/);
    assert.equal(tables(db), 'Account,Session,User,VerificationToken', 'the plan changed nothing');

    r = migrate(db, ['--apply']);
    assert.equal(r.status, 0, r.err);
    assert.equal(psql(db, `SELECT email || ' ' || password FROM "User" WHERE id = 'v1user'`),
        'old@example.com $2a$10$x');
    assert.equal(psql(db, 'SELECT count(*) FROM "_nano_migrations"'), String(MIGRATIONS.length));
});

test("a Prisma DATABASE_URL works as it stands: ?schema= and Prisma-only options", () => {
    const db = newDb();
    psql(db, 'CREATE SCHEMA "v1 app"');
    psqlFile(db, path.join(SQL, '000_v1_baseline.sql'), 'v1 app');
    const r = migrate(db, ['--apply'], { query: '&schema=v1%20app&connection_limit=5&pool_timeout=10&pgbouncer=true' });
    assert.equal(r.status, 0, r.err + r.out);
    assert.match(r.out, /present\s+000_v1_baseline\.sql/);
    assert.equal(psql(db, `SELECT count(*) FROM information_schema.columns
                           WHERE table_schema = 'v1 app' AND table_name = 'User' AND column_name = 'createdAt'`), '1');
    assert.equal(tables(db), '', 'nothing went to public');
});

test("V1's tables in another schema than the URL's: refused, not a second empty \"User\" created", () => {
    const db = newDb();
    psql(db, 'CREATE SCHEMA app');
    psqlFile(db, path.join(SQL, '000_v1_baseline.sql'), 'app');
    for (const args of [[], ['--apply']]) {
        const r = migrate(db, args);
        assert.equal(r.status, 1, r.out);
        assert.match(r.err, /no V1 table on the search path, but "User" exists in schema app: refusing to create a second, empty one \(point \?schema= in DATABASE_URL at V1's schema\)/);
        assert.equal(tables(db), '', `${args}: nothing created in public`);
    }
    assert.equal(migrate(db, ['--apply'], { query: '&schema=app' }).status, 0, 'with V1\'s schema it applies');
});

test('a non-additive migration is refused with its file and line; nothing of it is applied', () => {
    const db = newDb();
    const dir = sqlCopy();
    let r = migrate(db, ['--apply'], { dir });
    assert.equal(r.status, 0, r.err);
    fs.writeFileSync(path.join(dir, '900_bad.sql'),
        '-- tidy up\nALTER TABLE "User"\n  DROP COLUMN "image";\n');
    r = migrate(db, ['--apply'], { dir });
    assert.notEqual(r.status, 0);
    assert.match(r.err + r.out, /900_bad\.sql:3: DROP COLUMN is not additive/);
    assert.equal(psql(db, `SELECT count(*) FROM information_schema.columns
                           WHERE table_name = 'User' AND column_name = 'image'`), '1');
    const recorded = psql(db, `SELECT count(*) FROM information_schema.tables WHERE table_name = '_nano_migrations'`) === '1'
        ? psql(db, `SELECT count(*) FROM "_nano_migrations" WHERE name = '900_bad.sql'`) : '0';
    assert.equal(recorded, '0', '900_bad.sql is not recorded');
});

test('an applied migration that was edited afterwards is refused', () => {
    const db = newDb();
    const dir = sqlCopy();
    let r = migrate(db, ['--apply'], { dir });
    assert.equal(r.status, 0, r.err);
    fs.appendFileSync(path.join(dir, MIGRATIONS[1]), '\n-- edited after it ran\n');
    r = migrate(db, ['--apply'], { dir });
    assert.notEqual(r.status, 0);
    assert.match(r.out + r.err, new RegExp(`CHANGED\\s+${MIGRATIONS[1].replace('.', '\\.')}`));
});

test("a site's migration that took a number the next release uses: the release's own still applies", () => {
    const db = newDb();
    const dir = sqlCopy();
    const next = String(Number(MIGRATIONS.at(-1).slice(0, 3)) + 1).padStart(3, '0');
    // docs/OPERATIONS.md: a module added later brings its price migration
    fs.writeFileSync(path.join(dir, `${next}_site_price.sql`),
        `INSERT INTO "ModelPrice" ("module", "model", "label", "credits") VALUES ('site', 'm', 'M', 2);\n`);
    let r = migrate(db, ['--apply'], { dir });
    assert.equal(r.status, 0, r.err);
    // the next release of sql/ uses that number too
    fs.writeFileSync(path.join(dir, `${next}_release.sql`), 'CREATE TABLE "ReleaseThing" ("id" TEXT);\n');
    r = migrate(db, ['--apply'], { dir });
    assert.equal(r.status, 0, r.err + r.out);
    assert.match(r.out, new RegExp(`applied\\s+${next}_site_price\\.sql`));
    assert.match(r.out, new RegExp(`applied\\s+${next}_release\\.sql`));
    assert.equal(psql(db, `SELECT count(*) FROM "_nano_migrations" WHERE name LIKE '${next}\\_%'`), '2');
    assert.equal(psql(db, 'SELECT count(*) FROM "ReleaseThing"'), '0');

    // both still to run (a new database): their order is not defined
    const fresh = newDb();
    r = migrate(fresh, ['--apply'], { dir });
    assert.notEqual(r.status, 0);
    assert.match(r.err, new RegExp(`${next}_release\\.sql and .*${next}_site_price\\.sql have the same number and `
        + 'neither is applied'));
    assert.equal(tables(fresh), '', 'nothing applied');
});

test('an older sql/ than the database (a release rolled back): says so, applies and undoes nothing', () => {
    const db = newDb();
    let r = migrate(db, ['--apply']);
    assert.equal(r.status, 0, r.err);
    const dir = sqlCopy();
    const newest = MIGRATIONS.at(-1);
    fs.unlinkSync(path.join(dir, newest));
    r = migrate(db, ['--apply'], { dir });
    assert.equal(r.status, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.match(lines[0], /^database "mig_[0-9a-f]+" on .* schema "public"$/, 'the database first');
    assert.match(r.out, new RegExp(`\\n  unknown  ${newest.replace('.', '\\.')}  \\(recorded in the database, no such file\\)\\n`));
    assert.match(r.out, /^1 applied migration has no file here \(a newer release applied it; nothing of it is undone\)$/m);
    assert.equal(lines.at(-1), `plan: nothing to do (${MIGRATIONS.length - 1} applied)`);
    assert.equal(psql(db, 'SELECT count(*) FROM "_nano_migrations"'), String(MIGRATIONS.length), 'its record stays');
});

// A wrong --dir: every applied migration read as unknown, "nothing to
// do", exit 0 (found by the admin probe).
test('a --dir with no migration in it is refused, naming it; nothing is read or written', () => {
    const db = newDb();
    assert.equal(migrate(db, ['--apply']).status, 0);
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-nosql-'));
    fs.writeFileSync(path.join(empty, 'README.md'), 'not a migration\n');
    for (const args of [[], ['--apply']]) {
        const r = migrate(db, args, { dir: empty });
        assert.equal(r.status, 1, `${args}: ${r.out}${r.err}`);
        assert.match(r.err, new RegExp(`${empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no migration in it`));
        assert.doesNotMatch(r.out, /plan:/);
    }
    assert.equal(psql(db, 'SELECT count(*) FROM "_nano_migrations"'), String(MIGRATIONS.length), 'the record stays');
});

// nano-migrate --apply as a child we can wait for or kill.
function migrateAsync(db, args, { dir = SQL } = {}) {
    const url = `postgresql://postgres@localhost/${db}?host=${encodeURIComponent(SOCK)}`;
    const child = spawn(MIGRATE, [...args, '--dir', dir], { env: { ...process.env, DATABASE_URL: url } });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const done = new Promise((resolve) => child.on('close', (status, signal) => resolve({ status, signal, out, err })));
    return { child, done };
}

test('two hosts applying at once: one applies everything, the other waits and finds nothing to do', async () => {
    const db = newDb();
    const [a, b] = await Promise.all([migrateAsync(db, ['--apply']).done, migrateAsync(db, ['--apply']).done]);
    assert.equal(a.status, 0, a.err);
    assert.equal(b.status, 0, b.err);
    const both = a.out + b.out;
    assert.equal((both.match(/^done: /mg) || []).length, 1, both);
    assert.equal((both.match(/^plan: nothing to do/mg) || []).length, 1, both);
    for (const f of MIGRATIONS.slice(1)) {
        assert.equal((both.match(new RegExp(`^applied  ${f.replace('.', '\\.')}  \\(`, 'mg')) || []).length, 1, f);
    }
    assert.equal(psql(db, 'SELECT count(*) FROM "_nano_migrations"'), String(MIGRATIONS.length));
});

test('a runner killed in the middle of a migration leaves nothing of it; the next run applies it', async () => {
    const db = newDb();
    const dir = sqlCopy();
    let r = migrate(db, ['--apply'], { dir });
    assert.equal(r.status, 0, r.err);
    // a migration that stops half-way while the table "slow" exists
    psql(db, 'CREATE TABLE "slow" ()');
    fs.writeFileSync(path.join(dir, '900_half.sql'), 'CREATE TABLE "Half" ("id" TEXT);\n'
        + 'SELECT pg_sleep(CASE WHEN to_regclass(\'"slow"\') IS NULL THEN 0 ELSE 60 END);\n'
        + 'ALTER TABLE "User" ADD COLUMN "half" TEXT;\n');
    const run = migrateAsync(db, ['--apply'], { dir });
    const t0 = Date.now();
    while (psql(db, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'`) !== '1') {
        assert.ok(Date.now() - t0 < 15000, 'the migration reaches its sleep');
        await new Promise((res) => setTimeout(res, 100));
    }
    run.child.kill('SIGKILL');
    assert.equal((await run.done).signal, 'SIGKILL');
    const t1 = Date.now();
    // not left running its statement, locks held, until the statement ends
    while (psql(db, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'`) !== '0') {
        assert.ok(Date.now() - t1 < 5000, 'its session ends with it within seconds');
        await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(psql(db, `SELECT to_regclass('"Half"') IS NULL`), 't', 'nothing of it stays');
    assert.equal(psql(db, `SELECT count(*) FROM "_nano_migrations" WHERE name = '900_half.sql'`), '0');

    psql(db, 'DROP TABLE "slow"');
    r = migrate(db, ['--apply'], { dir });
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /applied  900_half\.sql/);
    assert.equal(psql(db, `SELECT count(*) FROM information_schema.columns
                           WHERE table_name = 'User' AND column_name = 'half'`), '1');
});

// psql -c ... as a child: a session that holds what it took until it ends.
function psqlAsync(db, sql) {
    const child = spawn(PSQL, ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', SOCK, '-U', 'postgres', '-d', db,
        ...[].concat(sql).flatMap((c) => ['-c', c])]);
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    return new Promise((resolve) => child.on('close', (status) => resolve({ status, out, err })));
}

test("a migration waiting for a lock V1 holds stalls V1's queries for 2 s at most, and applies once it is free", async () => {
    const db = newDb();
    const dir = sqlCopy();
    let r = migrate(db, ['--apply'], { dir });
    assert.equal(r.status, 0, r.err);
    fs.writeFileSync(path.join(dir, '900_user_column.sql'), 'ALTER TABLE "User" ADD COLUMN "x900" TEXT;\n');
    // a long V1 transaction that read "User" (a report, a slow page) holds its lock for 9 s
    const holder = psqlAsync(db, ['BEGIN', 'SELECT count(*) FROM "User"', 'SELECT pg_sleep(9)', 'COMMIT']);
    await new Promise((res) => setTimeout(res, 500));
    const run = migrateAsync(db, ['--apply'], { dir });
    await new Promise((res) => setTimeout(res, 500));
    // V1 signs someone up meanwhile: queued behind the migration's lock request
    const t0 = Date.now();
    const ins = await psqlAsync(db, `INSERT INTO "User" ("id", "email") VALUES ('v1-during', 'during@example.com')`);
    const stalled = Date.now() - t0;
    assert.equal(ins.status, 0, ins.err);
    assert.ok(stalled < 2600, `V1's INSERT waited ${stalled} ms behind the migration`);
    const done = await run.done;
    assert.equal((await holder).status, 0);
    assert.equal(done.status, 0, done.err + done.out);
    assert.match(done.err, /900_user_column\.sql: waited 2s for a lock; trying again in 3 s \(attempt 2 of 10\)/);
    assert.match(done.out, /applied  900_user_column\.sql/);
    assert.equal(psql(db, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'User' AND column_name = 'x900'`), '1');
});

test('a bad DATABASE_URL is refused without echoing the password', () => {
    const r = spawnSync(MIGRATE, ['--dir', SQL], {
        encoding: 'utf8', env: { ...process.env, DATABASE_URL: 'mysql://u:s3cret-pw@host/db' },
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /postgresql:\/\//);
    assert.ok(!(r.stdout + r.stderr).includes('s3cret-pw'));
});

// An app started on a database that lacks the newest migration of its
// build (the packages restart the apps on an upgrade before the operator
// runs nano-migrate) says so at start, naming it and the command; until
// 2026-12-06 nothing did, and what needed it answered 500 with no hint.
// The test stack's qwen, restarted with the newest row hidden, then with
// it back.
test('an app started on a database without the newest migration of its build warns, naming it; with it, it does not', async () => {
    const { STATE, stackctl } = await import('./lib.mjs');
    const last = MIGRATIONS.at(-1);
    const log = path.join(STATE, 'logs/qwen.log');
    const lacks = `the database lacks migration ${last}, which this build needs: run nano-migrate --apply`;
    // what qwen logs from its restart until it serves
    const restarted = async (fn) => {
        const from = fs.statSync(log).size;
        fn();
        stackctl('restart-backend', 'qwen');
        for (let i = 0; i < 200; i++) {
            const said = fs.readFileSync(log, 'utf8').slice(from);
            if (/serving qwen/.test(said)) return said;
            await new Promise((r) => setTimeout(r, 50));
        }
        assert.fail('qwen did not serve again within 10 s');
    };
    const hidden = `${last}.hidden`;
    try {
        const said = await restarted(() => psql('nano', `UPDATE "_nano_migrations" SET "name" = '${hidden}' WHERE "name" = '${last}'`));
        assert.ok(said.includes(lacks), `qwen's log says it:\n${said}`);
    } finally {
        const said = await restarted(() => psql('nano', `UPDATE "_nano_migrations" SET "name" = '${last}' WHERE "name" = '${hidden}'`));
        assert.ok(!said.includes('lacks migration'), `nothing said once it is there:\n${said}`);
    }
});

// ---- index builds on V1's tables (sql/002, 026): V1 keeps writing ----

// sql/ up to and without the file named, for a database that stops there.
function sqlBefore(file) {
    return sqlCopy((f) => f < file);
}

// A V1 database with rows, migrated up to the file named.
function v1Before(file) {
    const db = newDb();
    psqlFile(db, path.join(SQL, '000_v1_baseline.sql'));
    psql(db, `INSERT INTO "User" (id, email) SELECT 'u' || g, 'U' || g || '@Example.com' FROM generate_series(1, 20000) g;
              INSERT INTO "Account" (id, "userId", type, provider, "providerAccountId")
                  SELECT 'a' || g, 'u' || g, 'oauth', 'github', 'gh' || g FROM generate_series(1, 20000) g`);
    const r = migrate(db, ['--apply'], { dir: sqlBefore(file) });
    assert.equal(r.status, 0, r.err);
    return db;
}

// What the runner's session waits for and holds on a table, from pg_locks.
function runnerLocks(db, table) {
    return psql(db, `SELECT coalesce(string_agg(l.mode || CASE WHEN l.granted THEN '' ELSE ' (waiting)' END, ','), '')
                     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE a.application_name = 'nano-migrate' AND l.relation = '"${table}"'::regclass`);
}

async function until(what, fn, ms = 15000) {
    assert.ok(await retry(fn, ms, 100), what);
}

// Until 2026-12-07 002 and 008 were a plain CREATE INDEX: its SHARE lock
// held V1's sign-ups, profile updates and OAuth links for the whole build
// (3 s and 1.4 s at 1,000,000 users), and while it waited for a long V1
// transaction, for 2 s per try.  Now a concurrent build: V1's writes go
// on while it runs and while it waits.
for (const [file, table] of [['002_user_email_lower_idx.sql', 'User'], ['026_account_userid_idx.sql', 'Account']]) {
    test(`${file}: V1's writes to "${table}" go through while its index is built`, async () => {
        const db = v1Before(file);
        // a V1 transaction in progress that wrote the table: the build waits for it
        const held = table === 'User' ? `UPDATE "User" SET name = 'held' WHERE id = 'u1'`
            : `UPDATE "Account" SET scope = 'held' WHERE id = 'a1'`;
        const holder = psqlAsync(db, ['BEGIN', held, 'SELECT pg_sleep(6)', 'COMMIT']);
        await new Promise((res) => setTimeout(res, 500));
        const run = migrateAsync(db, ['--apply']);
        await until('the runner reaches the build and waits', () => psql(db, `SELECT count(*) FROM pg_stat_activity
            WHERE application_name = 'nano-migrate' AND wait_event_type = 'Lock'`) === '1');
        const t0 = Date.now();
        const w = await psqlAsync(db, [
            `INSERT INTO "User" (id, email) VALUES ('during', 'during@example.com')`,
            `UPDATE "User" SET name = 'New Name' WHERE id = 'u2'`,
            `INSERT INTO "Account" (id, "userId", type, provider, "providerAccountId")
                 VALUES ('a-during', 'during', 'oauth', 'google', 'g-during')`]);
        const took = Date.now() - t0;
        assert.equal(w.status, 0, w.err);
        assert.ok(took < 1000, `V1's writes took ${took} ms during the build`);
        // the table is taken SHARE UPDATE EXCLUSIVE only: no lock V1's writes wait for
        assert.equal(runnerLocks(db, table), 'ShareUpdateExclusiveLock');
        const done = await run.done;
        assert.equal((await holder).status, 0);
        assert.equal(done.status, 0, done.err + done.out);
        assert.match(done.out, new RegExp(`applied  ${file.replace('.', '\\.')}  \\(\\d+ ms, no transaction\\)`));
        const idx = file.startsWith('002') ? 'User_email_lower_idx' : 'Account_userId_idx';
        assert.equal(psql(db, `SELECT indisvalid FROM pg_index WHERE indexrelid = '"${idx}"'::regclass`), 't');
    });
}

// A V1 psql session idle in a transaction after stmt, and nano-migrate
// --apply, until its stderr matches says; both killed if it never does
// (not to hold the next test's build).
async function idleV1AndRun(db, stmt, says) {
    const holder = spawn(PSQL, ['-X', '-q', '-h', SOCK, '-U', 'postgres', '-d', db],
        { env: { ...process.env, PGAPPNAME: 'v1-idle' } });
    holder.stdin.write(`BEGIN;\n${stmt}\n`);
    await until('the V1 session is idle in its transaction', () => psql(db, `SELECT count(*) FROM pg_stat_activity
        WHERE application_name = 'v1-idle' AND state = 'idle in transaction'`) === '1');
    const pid = psql(db, `SELECT pid FROM pg_stat_activity WHERE application_name = 'v1-idle'`);
    const run = migrateAsync(db, ['--apply']);
    const seen = { err: '' };
    run.child.stderr.on('data', (d) => { seen.err += d; });
    try {
        await until(`the runner says ${says}`, () => says.test(seen.err), 15000);
    } finally {
        if (!says.test(seen.err)) {
            run.child.kill('SIGKILL');
            holder.kill('SIGKILL');
        }
    }
    return { holder, pid, run, err: seen.err };
}

// A concurrent build waits, with no lock_timeout, for every transaction
// older than it: a V1 session left idle in one held the runner silently
// for as long as it stayed (found by the review probe).  The runner now
// names whom it waits for, and how to end one.
test('a concurrent build held by a V1 session idle in a transaction names that session; it applies once the session ends', async () => {
    const db = v1Before('002_user_email_lower_idx.sql');
    const { holder, pid, run, err } = await idleV1AndRun(db, `UPDATE "User" SET name = 'held' WHERE id = 'u1';`, /still building/);
    assert.match(err, /sql\/002_user_email_lower_idx\.sql: still building after \d+ s, waiting for 1 older transaction to end \(they hold nothing V1 waits for; SELECT pg_terminate_backend\(pid\) ends one\):/);
    assert.match(err, new RegExp(`  pid ${pid}, idle in transaction, in its transaction for \\d+ s \\(user postgres, application v1-idle, client local\\): UPDATE "User" SET name = 'held' WHERE id = 'u1'`));
    // V1's writes still go through meanwhile, and the look costs no lock
    assert.equal(runnerLocks(db, 'User'), 'ShareUpdateExclusiveLock');
    holder.stdin.end('COMMIT;\n');
    const done = await run.done;
    assert.equal(done.status, 0, done.err + done.out);
    assert.match(done.out, /applied  002_user_email_lower_idx\.sql  \(\d+ ms, no transaction\)/);
    assert.equal(psql(db, `SELECT indisvalid FROM pg_index WHERE indexrelid = '"User_email_lower_idx"'::regclass`), 't');
    assert.equal(psql(db, `SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'nano-migrate%'`), '0',
        'its second session ends with it');
});

test('a concurrent build interrupted half-way leaves an INVALID index: the next run drops it and builds it again', async () => {
    const db = v1Before('002_user_email_lower_idx.sql');
    const holder = psqlAsync(db, ['BEGIN', `UPDATE "User" SET name = 'held' WHERE id = 'u1'`, 'SELECT pg_sleep(30)', 'COMMIT']);
    await new Promise((res) => setTimeout(res, 500));
    const run = migrateAsync(db, ['--apply']);
    await until('the build waits for the V1 transaction', () => psql(db, `SELECT count(*) FROM pg_stat_activity
        WHERE application_name = 'nano-migrate' AND wait_event_type = 'Lock'`) === '1');
    run.child.kill('SIGKILL');
    await run.done;
    // its session ends within seconds; what it began stays, INVALID
    await until('the runner\'s session ends', () => psql(db, `SELECT count(*) FROM pg_stat_activity
        WHERE application_name = 'nano-migrate'`) === '0', 5000);
    psql(db, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'`);
    await holder;
    assert.equal(psql(db, `SELECT indisvalid FROM pg_index WHERE indexrelid = '"User_email_lower_idx"'::regclass`), 'f');
    assert.equal(psql(db, `SELECT count(*) FROM "_nano_migrations" WHERE name = '002_user_email_lower_idx.sql'`), '0');

    const r = migrate(db, ['--apply']);
    assert.equal(r.status, 0, r.err + r.out);
    assert.match(r.err, /002_user_email_lower_idx\.sql: index "User_email_lower_idx" is INVALID \(an earlier build failed or was interrupted\): dropping it to build it again/);
    assert.match(r.out, /applied  002_user_email_lower_idx\.sql/);
    assert.equal(psql(db, `SELECT string_agg(c.relname || ' ' || i.indisvalid, ',') FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'User_email_lower_idx%'`), 'User_email_lower_idx true');
    // and it is the index sign-in uses
    assert.match(psql(db, `SET enable_seqscan = off; EXPLAIN SELECT id FROM "User" WHERE lower(email) = 'u7@example.com'`), /User_email_lower_idx/);
});

// Under the default search path "$user", public, a schema named after
// the role (as PostgreSQL's docs advise making) is current_schema(), while
// V1's tables, and so their indexes, stay in public: the runner looked
// for the INVALID index in current_schema() only, found none, and
// IF NOT EXISTS took the broken one for built (found by a probe).
test('an INVALID index in public is found and built again when the role\'s own schema comes first on the search path', () => {
    // V1's tables in public (Prisma's default), the role's schema beside
    // them from the start: V2's tables go there
    const db = newDb();
    psqlFile(db, path.join(SQL, '000_v1_baseline.sql'), 'public');
    psql(db, 'CREATE SCHEMA postgres');
    assert.equal(psql(db, 'SELECT current_schema()'), 'postgres', 'the role\'s schema comes first');
    const before = migrate(db, ['--apply'], { dir: sqlBefore('002_user_email_lower_idx.sql') });
    assert.equal(before.status, 0, before.err);
    assert.equal(psql(db, `SELECT relnamespace::regnamespace FROM pg_class WHERE oid = to_regclass('"_nano_migrations"')`), 'postgres');
    // an interrupted build's leftover, where PostgreSQL puts it: public
    psql(db, `CREATE INDEX "User_email_lower_idx" ON public."User" (lower("email"))`);
    psql(db, `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'public."User_email_lower_idx"'::regclass`);
    const r = migrate(db, ['--apply']);
    assert.equal(r.status, 0, r.err + r.out);
    assert.match(r.err, /002_user_email_lower_idx\.sql: index "User_email_lower_idx" is INVALID \(an earlier build failed or was interrupted\): dropping it to build it again/);
    assert.equal(psql(db, `SELECT string_agg(n.nspname || '.' || c.relname || ' ' || i.indisvalid, ',') FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relname LIKE 'User_email_lower_idx%'`), 'public.User_email_lower_idx true');
});

// Dropping an INVALID index CONCURRENTLY waits for older transactions as
// the build does: that wait names them too.
test('the drop of an INVALID index held by a V1 session idle in a transaction names that session', async () => {
    const db = v1Before('002_user_email_lower_idx.sql');
    // an interrupted build's leftover, as the test above leaves it
    psql(db, `CREATE INDEX "User_email_lower_idx" ON "User" (lower("email"))`);
    psql(db, `UPDATE pg_index SET indisvalid = false WHERE indexrelid = '"User_email_lower_idx"'::regclass`);
    const { holder, pid, run, err } = await idleV1AndRun(db, 'SELECT count(*) FROM "User";', /still dropping/);
    assert.match(err, /002_user_email_lower_idx\.sql: still dropping the invalid index after \d+ s, waiting for 1 older transaction to end/);
    assert.match(err, new RegExp(`  pid ${pid}, idle in transaction, in its transaction for \\d+ s \\(user postgres, application v1-idle, client local\\): SELECT count`));
    holder.stdin.end('COMMIT;\n');
    const done = await run.done;
    assert.equal(done.status, 0, done.err + done.out);
    assert.equal(psql(db, `SELECT indisvalid FROM pg_index WHERE indexrelid = '"User_email_lower_idx"'::regclass`), 't');
});

// 002 and 008 as they were until 2026-12-07, byte for byte: what databases
// that ran them recorded.
const OLD_002 = '-- Sign-in looks users up by lower("email") so that V1\'s mixed-case\n'
    + '-- addresses still match; this index keeps that lookup off a table scan.\n'
    + '-- Not unique: V1 rows may already differ only in letter case.\n'
    + 'CREATE INDEX IF NOT EXISTS "User_email_lower_idx" ON "User" (lower("email"));\n';
const OLD_008 = '-- OAuth sign-in (Google, GitHub) the NextAuth way, on V1\'s "Account"\n'
    + '-- rows as its Prisma adapter keeps them (docs/PLATFORM.md).\n\n'
    + '-- How a session signed in: \'credentials\', or the OAuth provider\'s id\n'
    + '-- (\'google\', \'github\'); NULL for sessions from before this column, and\n'
    + '-- for rows made later for tokens issued before rows were kept.  A\n'
    + '-- "fresh OAuth sign-in" (deleting the account, or a first password,\n'
    + '-- without a password) is a row with a provider here and "createdAt"\n'
    + '-- within 10 minutes.\n'
    + 'ALTER TABLE "AuthSession" ADD COLUMN "method" TEXT;\n\n'
    + '-- Prisma\'s schema indexes "Account" by (provider, providerAccountId)\n'
    + '-- only; the connected accounts of a user, and the cascade when a user\n'
    + '-- is deleted, look rows up by "userId".\n'
    + 'CREATE INDEX "Account_userId_idx" ON "Account" ("userId");\n';
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');
const mkText = (text) => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nano-old-')), 'old.sql');
    fs.writeFileSync(f, text);
    return f;
};

test('a database that ran 002 and 008 before their revision: accepted as applied, 026 finds its index built', () => {
    assert.equal(sha(OLD_002), '5e1d8e7f91569f554c2ace91505bac991a3eb47a05649af3b17529974481e390');
    assert.equal(sha(OLD_008), '2b36a47099c36ead38fa5a6a2b139fa43904f71424aff5edb2d2b87988c4e008');
    // the earlier files, in order, as the runner before the revision ran
    // them (today's refuses them: their plain index builds do not lint)
    const db = newDb();
    const upTo = (last, skip = []) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-sql-'));
        for (const f of MIGRATIONS.filter((f) => f <= last && !skip.includes(f))) {
            fs.copyFileSync(path.join(SQL, f), path.join(dir, f));
        }
        const r = migrate(db, ['--apply'], { dir });
        assert.equal(r.status, 0, r.err);
    };
    const byHand = (name, text) => {
        psqlFile(db, mkText(text));
        psql(db, `INSERT INTO "_nano_migrations" (name, checksum) VALUES ('${name}', '${sha(text)}')`);
    };
    upTo('001_user_created_at.sql');
    byHand('002_user_email_lower_idx.sql', OLD_002);
    upTo('007_profile.sql', ['002_user_email_lower_idx.sql']);
    byHand('008_oauth.sql', OLD_008);
    upTo('025_billing_reversals.sql', ['002_user_email_lower_idx.sql', '008_oauth.sql']);
    const old = sqlBefore('026_account_userid_idx.sql');
    fs.writeFileSync(path.join(old, '002_user_email_lower_idx.sql'), OLD_002);
    fs.writeFileSync(path.join(old, '008_oauth.sql'), OLD_008);
    let r;

    r = migrate(db, ['--apply']);
    assert.equal(r.status, 0, r.err + r.out);
    assert.match(r.out, /\n {2}applied {2}002_user_email_lower_idx\.sql {2}\(its earlier version, which left the same\)\n/);
    assert.match(r.out, /\n {2}applied {2}008_oauth\.sql {2}\(its earlier version, which left the same\)\n/);
    assert.match(r.out, /\n {2}applied {2}001_user_created_at\.sql\n/, 'the others say nothing more');
    assert.match(r.out, /applied {2}026_account_userid_idx\.sql {2}\(/);
    assert.doesNotMatch(r.err, /INVALID|CHANGED/);
    assert.equal(psql(db, `SELECT count(*) FROM pg_index WHERE indrelid = '"Account"'::regclass
        AND indkey::text = (SELECT attnum::text FROM pg_attribute WHERE attrelid = '"Account"'::regclass AND attname = 'userId')`),
    '1', 'one index on "Account"("userId"), not two');
    assert.equal(psql(db, `SELECT checksum FROM "_nano_migrations" WHERE name = '002_user_email_lower_idx.sql'`), sha(OLD_002),
        'the record keeps what ran');

    // a change that is no recorded revision is still refused
    const edited = sqlCopy();
    fs.appendFileSync(path.join(edited, '002_user_email_lower_idx.sql'), '-- edited again\n');
    r = migrate(db, ['--apply'], { dir: edited });
    assert.equal(r.status, 1);
    assert.match(r.out, /CHANGED {2}002_user_email_lower_idx\.sql/);
    // nor is the earlier text taken for the revised one's on a database that ran the revised one
    const fresh = newDb();
    assert.equal(migrate(fresh, ['--apply']).status, 0);
    r = migrate(fresh, ['--apply'], { dir: old });
    assert.equal(r.status, 1);
    assert.match(r.out, /CHANGED {2}002_user_email_lower_idx\.sql/);
});

test('a migration that builds a plain index on a V1 table, or a concurrent one outside a no-transaction file, is refused', () => {
    const db = newDb();
    const dir = sqlCopy();
    assert.equal(migrate(db, ['--apply'], { dir }).status, 0);
    fs.writeFileSync(path.join(dir, '900_idx.sql'), 'CREATE INDEX "User_name_idx" ON "User" ("name");\n'
        + 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Session_x" ON "Session" ("expires");\n'
        + 'CREATE INDEX "Gen_x" ON "Generation" ("status");\n');
    const r = migrate(db, ['--apply'], { dir });
    assert.equal(r.status, 1);
    assert.match(r.err, /900_idx\.sql:1: CREATE INDEX on existing table "User" holds its writes for the whole build: use CREATE INDEX CONCURRENTLY IF NOT EXISTS in a file marked "-- nano-migrate: no-transaction"/);
    assert.match(r.err, /900_idx\.sql:2: CREATE INDEX CONCURRENTLY cannot run inside a transaction/);
    assert.match(r.err, /900_idx\.sql:3: CREATE INDEX on existing table "Generation" holds its writes/);
    assert.match(r.err, /refusing the plan: 3 lint findings/);
    assert.equal(psql(db, `SELECT count(*) FROM pg_indexes WHERE indexname IN ('User_name_idx', 'Session_x', 'Gen_x')`), '0');
});
