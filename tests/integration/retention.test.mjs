// What the database keeps over time (docs/OPERATIONS.md, "What the
// database keeps"): every host's platform deletes, once a minute, the
// rows nothing reads any more, and only those, each by an index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ORIGIN, get, request, retry, sleep } from './lib.mjs';
import { psql, lit } from './accounts.mjs';
import { ROOT, MEDIA_DIR, backendEnv, tag, person, multipart, png } from './generations.mjs';

// Another platform on the stack's database, its snapshot in a folder of
// its own (none with snapshot: false): its first turn cleans up.
// { log(), stop() }.
async function anotherPlatform({ snapshot = true } = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-retention-'));
    const file = path.join(dir, 'revocations');
    const logFile = path.join(dir, 'platform.log');
    const out = fs.openSync(logFile, 'a');
    const child = spawn(path.join(ROOT, 'build/bin/nano-platform'),
        ['--listen', `unix:${path.join(dir, 'platform.sock')}`], {
            env: { ...backendEnv('platform'), NANO_REVOCATION_FILE: snapshot ? file : '' },
            stdio: ['ignore', out, out],
        });
    fs.closeSync(out);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const log = () => fs.readFileSync(logFile, 'utf8');
    const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        if (await Promise.race([exited, sleep(10000).then(() => 'late')]) === 'late') {
            child.kill('SIGKILL');
            await exited;
        }
        fs.rmSync(dir, { recursive: true, force: true });
    };
    const started = snapshot ? () => fs.existsSync(file)
        : () => log().includes('revocations: publishing nothing; cleaning up');
    if (!await retry(started, 10000, 50)) {
        const said = log().slice(-800);
        await stop();
        throw new Error(`the second platform wrote no snapshot: ${said}`);
    }
    return { log, stop };
}

const UTC = "(now() AT TIME ZONE 'utc')";

test('the clean-up deletes Stripe events past 30 days, idempotency keys past 24 hours and sign-in throttles long over, and keeps younger ones', async () => {
    const t = tag();
    const ev = (name) => `evt_retention_${t}_${name}`;
    // Stripe retries for 3 days and resends by hand up to 30 days
    psql(`INSERT INTO "StripeEvent" ("id", "type", "receivedAt") VALUES
          (${lit(ev('old'))}, 'checkout.session.completed', ${UTC} - interval '31 days'),
          (${lit(ev('retry'))}, 'checkout.session.completed', ${UTC} - interval '3 days'),
          (${lit(ev('month'))}, 'charge.refunded', ${UTC} - interval '29 days')`);

    // keys of a user who never came back to the module: no admission of
    // theirs deletes them
    const user = `retention-${t}`;
    const gens = ['old', 'young'].map((n) => `gen-retention-${t}-${n}`);
    psql(`INSERT INTO "Generation" ("id", "userId", "module", "model", "kind", "status", "cost")
          VALUES (${lit(gens[0])}, ${lit(user)}, 'retention', 'm', 'image', 'succeeded', 0),
                 (${lit(gens[1])}, ${lit(user)}, 'retention', 'm', 'image', 'succeeded', 0)`);
    psql(`INSERT INTO "GenerationKey" ("userId", "module", "key", "generationId", "createdAt") VALUES
          (${lit(user)}, 'retention', 'k-old', ${lit(gens[0])}, ${UTC} - interval '25 hours'),
          (${lit(user)}, 'retention', 'k-young', ${lit(gens[1])}, ${UTC} - interval '23 hours')`);

    // sign-in throttles: one whose window and lock are long over, one
    // locked until 23 hours ago (its lock-outs still count), one in its
    // window
    const DB_NOW = 'extract(epoch FROM now())::bigint';
    const th = (name) => `retention-${t}-${name}`;
    psql(`INSERT INTO "SignInThrottle" ("key", "attempts", "windowStart", "lockedUntil", "lockouts") VALUES
          (${lit(th('over'))}, 3, ${DB_NOW} - 2000, 0, 0),
          (${lit(th('locked'))}, 0, ${DB_NOW} - 90000, ${DB_NOW} - 82800, 2),
          (${lit(th('window'))}, 3, ${DB_NOW} - 600, 0, 0)`);
    const throttles = () => psql(`SELECT string_agg("key", ',' ORDER BY "key") FROM "SignInThrottle" WHERE "key" LIKE ${lit(`retention-${t}-%`)}`);

    const other = await anotherPlatform();
    try {
        const events = () => psql(`SELECT string_agg("id", ',' ORDER BY "id") FROM "StripeEvent" WHERE "id" LIKE ${lit(`evt_retention_${t}_%`)}`);
        const keys = () => psql(`SELECT string_agg("key", ',' ORDER BY "key") FROM "GenerationKey" WHERE "userId" = ${lit(user)}`);
        const done = await retry(() => !events().includes(ev('old')) && keys() === 'k-young', 10000, 100);
        assert.ok(done, `events ${events()}, keys ${keys()}: ${other.log().slice(-800)}`);
        assert.equal(events(), [ev('month'), ev('retry')].join(','), 'younger events are kept');
        assert.equal(keys(), 'k-young', 'a key within its 24 hours is kept');
        assert.equal(throttles(), [th('locked'), th('window')].join(','), 'only the throttle that is over goes');
        assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "id" IN (${lit(gens[0])}, ${lit(gens[1])})`), '2',
            'a key\'s generation stays');
        assert.ok(!other.log().includes('clean-up failed'), other.log().slice(-800));
    } finally {
        await other.stop();
        psql(`DELETE FROM "StripeEvent" WHERE "id" LIKE ${lit(`evt_retention_${t}_%`)}`);
        psql(`DELETE FROM "Generation" WHERE "userId" = ${lit(user)}`);
        psql(`DELETE FROM "SignInThrottle" WHERE "key" LIKE ${lit(`retention-${t}-%`)}`);
    }
});

// The clean-up's statements (backends/platform/revocations.c) on tables
// of 100,000 rows, nothing of which is due: each reads an index, not the
// table, every minute on every host.  In a transaction rolled back.
test('each clean-up statement of a growing table reads an index on 100,000 rows', () => {
    const t = tag();
    const N = 100000;
    const GRACE = 600;
    const plans = psql([
        'BEGIN',
        `INSERT INTO "AuthSession" ("id", "userId", "expires")
         SELECT 'retention-${t}-' || i, 'retention-${t}', extract(epoch FROM now())::bigint + 86400 + i
           FROM generate_series(1, ${N}) i`,
        `INSERT INTO "StripeEvent" ("id", "type", "receivedAt")
         SELECT 'evt_retention_${t}_' || i, 'x', ${UTC} - i * interval '1 second'
           FROM generate_series(1, ${N}) i`,
        `INSERT INTO "Generation" ("id", "userId", "module", "model", "kind", "status", "cost")
         SELECT 'gen-retention-${t}-' || i, 'retention-${t}-' || (i % 1000), 'retention', 'm', 'image', 'succeeded', 0
           FROM generate_series(1, ${N}) i`,
        `INSERT INTO "GenerationKey" ("userId", "module", "key", "generationId", "createdAt")
         SELECT 'retention-${t}-' || (i % 1000), 'retention', 'k' || i, 'gen-retention-${t}-' || i, ${UTC} - i * interval '1 second' / 10
           FROM generate_series(1, ${N}) i`,
        `INSERT INTO "SignInThrottle" ("key", "attempts", "windowStart", "lockedUntil")
         SELECT 'retention-${t}-' || i, 1, extract(epoch FROM now())::bigint - i / 200, 0
           FROM generate_series(1, ${N}) i`,
        'ANALYZE "AuthSession", "StripeEvent", "GenerationKey", "SignInThrottle"',
        `EXPLAIN DELETE FROM "AuthSession" WHERE "expires" < (extract(epoch FROM now())::bigint - ${GRACE})`,
        `EXPLAIN DELETE FROM "StripeEvent" WHERE "receivedAt" < ${UTC} - interval '30 days'`,
        `EXPLAIN DELETE FROM "GenerationKey" WHERE "createdAt" < ${UTC} - interval '24 hours'`,
        `EXPLAIN DELETE FROM "SignInThrottle" WHERE "windowStart" < (extract(epoch FROM now())::bigint - ${GRACE}) - 900
           AND "lockedUntil" < (extract(epoch FROM now())::bigint - ${GRACE}) - 86400`,
        'ROLLBACK',
    ]);
    const each = plans.split(/\n(?=Delete on )/);
    assert.equal(each.length, 4, plans);
    for (const [plan, table] of [[each[0], 'AuthSession'], [each[1], 'StripeEvent'], [each[2], 'GenerationKey'], [each[3], 'SignInThrottle']]) {
        assert.ok(plan.startsWith(`Delete on "${table}"`), plan);
        assert.match(plan, /Index (Only )?Scan|Bitmap Index Scan/, `${table}: ${plan}`);
        assert.doesNotMatch(plan, /Seq Scan/, `${table}: ${plan}`);
    }
});

// A user deleted outside the platform (V1's app, SQL by hand): the
// modules remove their folders of the user on NOTIFY nano_user_deleted
// (sql/023), and the platform its avatar, which any signed-in user could
// otherwise still fetch, for good.
test('a user deleted by SQL loses the avatar: its file goes and others get 404', async () => {
    const u = await person('retention-avatar');
    const other = await person('retention-avatar-other');
    const body = multipart({}, [{ name: 'image', filename: 'me.png', type: 'image/png', data: png(64, 64) }]);
    const up = await request('POST', '/api/account/avatar', {
        headers: u.jar.headers({ 'Content-Type': body.type, Origin: ORIGIN }), body: body.body,
    });
    assert.equal(up.status, 200, up.text);
    const file = path.join(MEDIA_DIR, 'avatars', `${u.id}.png`);
    const seen = () => get(`/api/account/avatar/${u.id}`, { headers: other.jar.headers() });
    assert.ok(fs.existsSync(file), 'the avatar is stored');
    assert.equal((await seen()).status, 200, 'another user sees it');

    psql(`DELETE FROM "User" WHERE "id" = ${lit(u.id)}`);
    assert.ok(await retry(() => !fs.existsSync(file), 5000, 50), `${file} stays after the user's deletion`);
    const after = await seen();
    assert.equal(after.status, 404, after.text.slice(0, 200));
});

// A user deleted while no platform listened (every one stopped, or none
// with NANO_REVOCATION_FILE): a platform's hourly avatar sweep, first
// run at its start, removes the avatar no "User" row names any more,
// and a temporary file a write left an hour ago; a live user's avatar
// and a write under way stay.
test('a platform at its start removes the avatars of users who are gone and writes left an hour ago', async () => {
    const u = await person('retention-sweep');
    const body = multipart({}, [{ name: 'image', filename: 'me.png', type: 'image/png', data: png(64, 64) }]);
    const up = await request('POST', '/api/account/avatar', {
        headers: u.jar.headers({ 'Content-Type': body.type, Origin: ORIGIN }), body: body.body,
    });
    assert.equal(up.status, 200, up.text);
    const dir = path.join(MEDIA_DIR, 'avatars');
    const live = path.join(dir, `${u.id}.png`);
    const gone = path.join(dir, `retention${tag()}gone.png`);
    const stale = path.join(dir, `${u.id}.png.Ab12Cd`);
    const fresh = path.join(dir, `${u.id}.png.Ef34Gh`);
    for (const f of [gone, stale, fresh]) fs.copyFileSync(live, f);
    const hourAgo = new Date(Date.now() - 2 * 3600 * 1000);
    fs.utimesSync(stale, hourAgo, hourAgo);

    const other = await anotherPlatform();
    try {
        assert.ok(await retry(() => !fs.existsSync(gone) && !fs.existsSync(stale), 10000, 100),
            `gone ${fs.existsSync(gone)}, stale ${fs.existsSync(stale)}: ${other.log().slice(-800)}`);
        assert.ok(fs.existsSync(live), 'a live user\'s avatar stays');
        assert.ok(fs.existsSync(fresh), 'a write under way stays');
    } finally {
        await other.stop();
        for (const f of [gone, stale, fresh]) fs.rmSync(f, { force: true });
    }
});

// A platform without NANO_REVOCATION_FILE (a host whose gateway reads
// no snapshot) publishes nothing but still cleans up: it deleted nothing
// of "What the database keeps", ever, and left the avatars of deleted
// users on disk for good.
test('a platform without NANO_REVOCATION_FILE still deletes old rows and the avatars of users who are gone', async () => {
    const ev = `evt_retention_nofile_${tag()}`;
    psql(`INSERT INTO "StripeEvent" ("id", "type", "receivedAt") VALUES
          (${lit(ev)}, 'checkout.session.completed', ${UTC} - interval '31 days')`);
    const u = await person('retention-nofile');
    const body = multipart({}, [{ name: 'image', filename: 'me.png', type: 'image/png', data: png(64, 64) }]);
    const up = await request('POST', '/api/account/avatar', {
        headers: u.jar.headers({ 'Content-Type': body.type, Origin: ORIGIN }), body: body.body,
    });
    assert.equal(up.status, 200, up.text);
    const live = path.join(MEDIA_DIR, 'avatars', `${u.id}.png`);
    const gone = path.join(MEDIA_DIR, 'avatars', `retention${tag()}nofile.png`);
    fs.copyFileSync(live, gone);

    const other = await anotherPlatform({ snapshot: false });
    try {
        assert.ok(await retry(() => !fs.existsSync(gone), 10000, 100),
            `the avatar of a user who is gone stays: ${other.log().slice(-800)}`);
        assert.ok(await retry(() => psql(`SELECT count(*) FROM "StripeEvent" WHERE "id" = ${lit(ev)}`).trim() === '0', 10000, 100),
            `a 31-day-old Stripe event stays: ${other.log().slice(-800)}`);
        assert.ok(fs.existsSync(live), 'a live user\'s avatar stays');
        assert.ok(!other.log().includes('publishing to'), other.log().slice(-800));
    } finally {
        await other.stop();
        fs.rmSync(gone, { force: true });
    }
});
