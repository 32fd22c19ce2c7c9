// V1's app on the migrated database: its Prisma adapter's statements
// (only V1's columns, Prisma's defaults) still work after every
// migration, also from a role with no rights on V2's tables, and a user
// V1 deletes loses its V2 sessions, account and generations as a
// deletion through the platform does (sql/020_user_deleted.sql); a
// user's "createdAt" is UTC whatever the session's TimeZone (021); a
// password V1 changes ends the user's V2 sessions (022); the media of a
// user deleted so go at once, each module removing its own folder (023).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PG_SOCK, PSQL, assertRefusedWithin, lit } from './accounts.mjs';
import { psql, person, generate, ledgerSum, oneJob, filesBelow, MEDIA_DIR } from './generations.mjs';

// As the cluster's superuser: role set-up, and statements run as that
// role (SET ROLE) in one session.
function asPostgres(sql) {
    const r = spawnSync(PSQL, ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', PG_SOCK, '-U', 'postgres',
        '-d', 'nano'], { input: sql, encoding: 'utf8', timeout: 30000 });
    return { status: r.status, out: r.stdout.trim(), err: r.stderr };
}

// A role that holds only what V1's app needs: its four tables.
function v1Role() {
    const role = `v1_${crypto.randomBytes(4).toString('hex')}`;
    const r = asPostgres(`CREATE ROLE ${role};
        GRANT USAGE ON SCHEMA public TO ${role};
        GRANT SELECT, INSERT, UPDATE, DELETE ON "User", "Account", "Session", "VerificationToken" TO ${role};`);
    assert.equal(r.status, 0, r.err);
    return role;
}

test("V1's adapter statements work after every migration, from a role with V1's rights only", () => {
    const role = v1Role();
    const id = `c${crypto.randomBytes(12).toString('hex')}`;
    const email = `V1.${id}@Example.com`;
    const r = asPostgres(`SET ROLE ${role};
        INSERT INTO "User" ("id", "name", "email", "emailVerified", "image")
            VALUES (${lit(id)}, 'V One', ${lit(email)}, NULL, NULL)
            RETURNING "id", "name", "email", "emailVerified", "image";
        INSERT INTO "Account" ("id", "userId", "type", "provider", "providerAccountId", "access_token",
            "expires_at", "token_type", "scope")
            VALUES (${lit(`a${id}`)}, ${lit(id)}, 'oauth', 'github', ${lit(`gh-${id}`)}, 'tok', 1, 'bearer', 'read');
        INSERT INTO "Session" ("id", "sessionToken", "userId", "expires")
            VALUES (${lit(`s${id}`)}, ${lit(`st${id}`)}, ${lit(id)}, now() + interval '30 days');
        INSERT INTO "VerificationToken" ("identifier", "token", "expires")
            VALUES (${lit(email)}, ${lit(`vt${id}`)}, now() + interval '1 day');
        UPDATE "User" SET "email" = lower("email"), "emailVerified" = now(), "password" = '$2b$12$x'
            WHERE "id" = ${lit(id)} RETURNING "email";
        UPDATE "Session" SET "expires" = now() + interval '31 days' WHERE "sessionToken" = ${lit(`st${id}`)};
        DELETE FROM "VerificationToken" WHERE "identifier" = ${lit(email)} AND "token" = ${lit(`vt${id}`)}
            RETURNING "identifier";
        DELETE FROM "User" WHERE "id" = ${lit(id)} RETURNING "id";
        RESET ROLE;
        SELECT count(*) FROM "Account" WHERE "userId" = ${lit(id)};
        SELECT count(*) FROM "Session" WHERE "userId" = ${lit(id)};`);
    assert.equal(r.status, 0, `V1's statements as ${role}: ${r.err}`);
    const lines = r.out.split('\n');
    assert.match(lines[0], new RegExp(`^${id}\\|V One\\|V1\\.${id}@Example\\.com\\|\\|$`), 'the user as V1 reads it');
    assert.equal(lines[1], `v1.${id}@example.com`, 'the email renamed');
    assert.deepEqual(lines.slice(2), [email, id, '0', '0'], "the token used, the user deleted, V1's cascade ran");
    assert.equal(psql(`SELECT "createdAt" IS NOT NULL FROM "User" WHERE "id" = ${lit(id)}`), '', 'gone');
});

test('a user made in a session whose TimeZone is not UTC gets its "createdAt" in UTC', () => {
    const id = `c${crypto.randomBytes(12).toString('hex')}`;
    // as V1's adapter inserts (without the column), and as the platform does
    const r = asPostgres(`SET TimeZone = 'Pacific/Kiritimati';
        INSERT INTO "User" ("id", "name", "email", "emailVerified", "image")
            VALUES (${lit(id)}, 'Far East', ${lit(`${id}@example.com`)}, NULL, NULL);
        RESET TimeZone;
        SELECT round(extract(epoch FROM ((now() AT TIME ZONE 'utc') - "createdAt")))::int
            FROM "User" WHERE "id" = ${lit(id)};
        DELETE FROM "User" WHERE "id" = ${lit(id)};`);
    assert.equal(r.status, 0, r.err);
    const behind = Number(r.out);
    assert.ok(behind >= 0 && behind < 60, `"createdAt" is ${behind} s behind UTC now (UTC+14 would be -50400)`);
});

test("a password V1 changes (a reset, an intruder shut out) ends the user's V2 sessions; a first one does not", async () => {
    const p = await person('v1pw');
    const role = v1Role();
    const t0 = Date.now();
    let r = asPostgres(`SET ROLE ${role};
        UPDATE "User" SET "password" = '$2b$12$resetbyv1' WHERE "id" = ${lit(p.id)} RETURNING "id";`);
    assert.equal(r.status, 0, `V1's UPDATE refused: ${r.err}`);
    await assertRefusedWithin(assert, [p.jar], 'the user whose password V1 changed', { t0 });
    assert.equal(psql(`SELECT count(*) FROM "AuthSession" WHERE "userId" = ${lit(p.id)}`), '0');

    // an OAuth-only user (no password) with a session: a first password,
    // and a change of another column, end nothing
    const id = `c${crypto.randomBytes(12).toString('hex')}`;
    r = asPostgres(`SET ROLE ${role};
        INSERT INTO "User" ("id", "name", "email") VALUES (${lit(id)}, 'O', ${lit(`${id}@example.com`)});
        RESET ROLE;
        INSERT INTO "AuthSession" ("id", "userId", "expires", "method")
            VALUES (${lit(`j${id}`)}, ${lit(id)}, extract(epoch FROM now())::bigint + 3600, 'github');
        SET ROLE ${role};
        UPDATE "User" SET "password" = '$2b$12$first' WHERE "id" = ${lit(id)};
        UPDATE "User" SET "name" = 'Renamed by V1' WHERE "id" = ${lit(id)};
        RESET ROLE;
        SELECT count(*) FROM "AuthSession" WHERE "userId" = ${lit(id)};
        SELECT count(*) FROM "SessionCutoff" WHERE "userId" = ${lit(id)};
        DELETE FROM "User" WHERE "id" = ${lit(id)};`);
    assert.equal(r.status, 0, r.err);
    assert.deepEqual(r.out.split('\n'), ['1', '0'], 'its session row stays and no cut-off is set');
});

test('a user V1 deletes loses its sessions, account and generations; its ledger stays, anonymous', async () => {
    const p = await person('v1del');
    const gen = await generate(p.jar, 'qwen', { prompt: 'before V1 deletes me' });
    assert.equal(gen.status, 200, gen.text);
    const sum = ledgerSum(p.id);
    assert.ok(sum > 0, 'a sign-up grant less one debit');
    assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "userId" = ${lit(p.id)}`), '1');
    assert.equal(psql(`SELECT count(*) >= 1 FROM "AuthSession" WHERE "userId" = ${lit(p.id)}`), 't');

    // V1's deletion, as its adapter sends it, from a role with V1's rights
    // only, in a session that has a temporary table named like one of V2's
    // (the trigger must not write there, nor fail on it)
    const role = v1Role();
    assert.equal(asPostgres(`GRANT TEMPORARY ON DATABASE nano TO ${role}`).status, 0);
    const t0 = Date.now();
    const r = asPostgres(`SET ROLE ${role};
        CREATE TEMPORARY TABLE "SessionCutoff" ("userId" TEXT PRIMARY KEY, "notBefore" BIGINT, "updatedAt" TIMESTAMP(3));
        DELETE FROM "User" WHERE "id" = ${lit(p.id)} RETURNING "id";
        SELECT count(*) FROM pg_temp."SessionCutoff";`);
    assert.equal(r.status, 0, `V1's DELETE refused: ${r.err}`);
    assert.equal(r.out, `${p.id}\n0`, 'deleted; nothing went to the temporary table');

    await assertRefusedWithin(assert, [p.jar], 'the user V1 deleted', { t0 });
    const again = await generate(p.jar, 'qwen', { prompt: 'after' });
    assert.equal(again.status, 401, `a deleted user generates no more: ${again.text}`);

    const left = JSON.parse(psql(`SELECT json_build_object(
        'sessions', (SELECT count(*) FROM "AuthSession" WHERE "userId" = ${lit(p.id)}),
        'generations', (SELECT count(*) FROM "Generation" WHERE "userId" = ${lit(p.id)}),
        'account', (SELECT count(*) FROM "CreditAccount" WHERE "userId" = ${lit(p.id)}),
        'ledger', (SELECT count(*) FROM "CreditLedger" WHERE "userId" = ${lit(p.id)}),
        'cutoffAhead', (SELECT "notBefore" - extract(epoch FROM now())::bigint FROM "SessionCutoff"
                        WHERE "userId" = ${lit(p.id)}))`));
    assert.deepEqual({ ...left, cutoffAhead: left.cutoffAhead > 29 * 86400 },
        { sessions: 0, generations: 0, account: 0, ledger: 0, cutoffAhead: true });
    const tomb = psql(`SELECT DISTINCT "userId" FROM "CreditLedger" WHERE "generationId" = ${lit(gen.json().id)}`);
    assert.match(tomb, /^deleted-[0-9a-f]{32}$/, 'the ledger rows under one anonymous id');
    assert.equal(ledgerSum(tomb), sum, 'with their amounts');
});

// A user deleted outside the platform kept its media files until each
// module's hourly sweep, and where every module runs as its own system
// user (the packages) even the platform's own deletion could remove them
// only through CAP_DAC_OVERRIDE.  sql/023's NOTIFY has each module's
// runner remove its own folder of the user at the deletion's commit.
test("a user deleted by SQL loses its media files in each module at once, another user's stay", async () => {
    const gone = await oneJob('nano-banana', 'v1media', 'a file that goes with its owner');
    const stays = await oneJob('nano-banana', 'v1media2', 'a file that stays');
    assert.equal(gone.g.status, 'succeeded', JSON.stringify(gone.g));
    assert.equal(stays.g.status, 'succeeded', JSON.stringify(stays.g));
    const dir = path.join(MEDIA_DIR, 'nano-banana', gone.u.id);
    const other = path.join(MEDIA_DIR, 'nano-banana', stays.u.id);
    assert.equal(filesBelow(dir).length, 1, `its output is on disk: ${filesBelow(dir)}`);
    const kept = filesBelow(other);
    assert.equal(kept.length, 1);

    const r = asPostgres(`DELETE FROM "User" WHERE "id" = ${lit(gone.u.id)} RETURNING "id";`);
    assert.equal(r.status, 0, r.err);
    assert.equal(r.out, gone.u.id);
    const until = Date.now() + 10000;
    while (fs.existsSync(dir) && Date.now() < until) await new Promise((res) => setTimeout(res, 100));
    assert.equal(fs.existsSync(dir), false, `the deleted user's folder stays: ${filesBelow(dir)}`);
    assert.deepEqual(filesBelow(other), kept, "another user's files stay");
});
