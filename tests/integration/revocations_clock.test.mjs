// Several hosts, several clocks (docs/HOSTS.md): every host's platform
// deletes the revocation rows whose tokens have expired anyway, and the
// rows are every host's.  They are judged by the database's clock: a
// platform whose clock runs ahead must not delete a revocation whose
// token the other hosts still take, which would let a signed-out cookie
// in again on every host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { get, signedInUser, retry, sleep, keepRunning } from './lib.mjs';
import { copyJar, signOut, psql, lit, assertRefusedWithin, REVOKE_WITHIN } from './accounts.mjs';
import { ROOT, backendEnv } from './generations.mjs';

keepRunning(['platform']);

const DB_NOW = 'extract(epoch FROM clock_timestamp())::bigint';
const SKEW = 900;                       // s: past the clean-up's 600 s margin

const me = (jar) => get('/qwen/api/me', { headers: jar.headers() });

// Another host's platform on the same database, its clock secs ahead,
// its snapshot in a folder of its own: { dir, file, stop() }.
function skewedPlatform(secs) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-revclock-'));
    const file = path.join(dir, 'revocations');
    const log = fs.openSync(path.join(dir, 'platform.log'), 'a');
    const child = spawn(path.join(ROOT, 'build/bin/nano-platform'),
        ['--listen', `unix:${path.join(dir, 'platform.sock')}`], {
            env: {
                ...backendEnv('platform'),
                NANO_REVOCATION_FILE: file,
                LD_PRELOAD: path.join(ROOT, 'build/lib/nano-clockskew.so'),
                NANO_CLOCK_SKEW: String(secs),
                ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':'),
            },
            stdio: ['ignore', log, log],
        });
    fs.closeSync(log);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    return {
        dir, file,
        log: () => fs.readFileSync(path.join(dir, 'platform.log'), 'utf8'),
        stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            if (await Promise.race([exited, sleep(10000).then(() => 'late')]) === 'late') {
                child.kill('SIGKILL');
                await exited;
            }
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

test(`a platform whose clock runs ${SKEW} s ahead deletes no revocation the other hosts still need: a signed-out cookie stays refused; a really expired row still goes`, async () => {
    const { user, jar } = await signedInUser('revclock');
    const old = copyJar(jar);
    assert.equal((await me(old)).status, 200, 'the copy works before the sign-out');

    const res = await signOut(jar);
    const t0 = Date.now();
    assert.equal(res.status, 302, res.text);
    await assertRefusedWithin(assert, [old], 'the copy after sign-out', { t0 });
    const row = psql(`SELECT "id" FROM "RevokedSession" WHERE "userId" = (SELECT "id" FROM "User" WHERE "email" = ${lit(user.email)})`);
    assert.ok(row !== '', 'the sign-out wrote a revocation row');

    // That revocation in its last two minutes (by the database's clock,
    // which a correct host shares); a row 1000 s past its end, which any
    // host may delete.
    psql(`UPDATE "RevokedSession" SET "expires" = ${DB_NOW} + 120 WHERE "id" = ${lit(row)}`);
    const stale = `revclock-stale-${Date.now()}`;
    psql(`INSERT INTO "RevokedSession" ("id", "userId", "expires") VALUES (${lit(stale)}, NULL, ${DB_NOW} - 1000)`);

    const other = skewedPlatform(SKEW);
    try {
        // its first turn writes its snapshot, then cleans up
        assert.ok(await retry(() => fs.existsSync(other.file), 10000, 50),
            `the skewed platform wrote no snapshot: ${other.log().slice(-800)}`);
        assert.ok(await retry(() => psql(`SELECT count(*) FROM "RevokedSession" WHERE "id" = ${lit(stale)}`) === '0', 5000, 100),
            `the row 1000 s past its end is deleted: ${other.log().slice(-800)}`);
        await sleep(REVOKE_WITHIN);

        const after = await me(old);
        assert.equal(after.status, 401, `the signed-out copy is still refused: ${after.status} ${after.text.slice(0, 150)}`);
        assert.equal(psql(`SELECT count(*) FROM "RevokedSession" WHERE "id" = ${lit(row)}`), '1',
            'the live revocation is kept');
        const snapshot = fs.readFileSync(backendEnv('platform').NANO_REVOCATION_FILE, 'utf8');
        assert.ok(snapshot.includes(row), 'the first host\'s snapshot still lists it');
    } finally {
        await other.stop();
        psql(`DELETE FROM "RevokedSession" WHERE "id" IN (${lit(stale)}, ${lit(row)})`);
    }
});
