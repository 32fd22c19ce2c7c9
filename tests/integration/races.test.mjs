// Races on shared state, as two tabs or a script firing requests in
// parallel would meet them (found by the races probe).  Where a race's
// window is a round trip, a trigger that holds one statement for a
// second makes it wide enough to hit every time, as debit_commit.test.mjs
// holds a record: the code under test runs as it would under load.
//
// - a session's use (GET /api/auth/session's touch, POST's renewal) that
//   read the session as live just before "sign out everywhere" or "sign
//   out this one" committed made its "AuthSession" row again: a dead
//   session listed in settings for 30 days.  A session from before rows
//   were kept still gets its row at its use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, get, request, csrf, form, signIn, Jar } from './lib.mjs';
import { account, copyJar, FORM } from './accounts.mjs';
import { psql, lit, person } from './generations.mjs';

// Holds every INSERT and UPDATE of one user's "AuthSession" rows for ms, the time a
// busy database may take; () => drops it.
function holdSessionInserts(userId, ms) {
    const name = `races_hold_${userId.replace(/[^a-z0-9]/gi, '').slice(0, 24)}`;
    psql(`CREATE FUNCTION "${name}"() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(${ms / 1000}); RETURN NEW; END $$;
        CREATE TRIGGER "${name}" BEFORE INSERT OR UPDATE ON "AuthSession" FOR EACH ROW
            WHEN (NEW."userId" = ${lit(userId)}) EXECUTE FUNCTION "${name}"();`);
    return () => psql(`DROP TRIGGER IF EXISTS "${name}" ON "AuthSession";
        DROP FUNCTION IF EXISTS "${name}"();`);
}

const sessionRows = (userId) => psql(`SELECT "id" FROM "AuthSession" WHERE "userId" = ${lit(userId)} ORDER BY "id"`)
    .split('\n').filter(Boolean);

// useSession().update(): the renewal, cookie re-issued.
async function renew(jar) {
    const csrfToken = await csrf(jar);
    return request('POST', '/api/auth/session', { headers: jar.headers(FORM), body: form({ csrfToken }) });
}

const uses = {
    touch: (jar) => get('/api/auth/session', { headers: jar.headers() }),
    renewal: renew,
};
const signOuts = {
    'sign out everywhere': (u) => account('POST', '/api/account/signout-all', u.jar, {}),
    'sign out this one': (u, jti) => account('DELETE', `/api/account/sessions/${jti}`, u.jar, {}),
};

for (const [useName, use] of Object.entries(uses)) {
    for (const [outName, signOut] of Object.entries(signOuts)) {
        test(`a ${useName} under way when "${outName}" commits does not bring the session's row back`, async () => {
            const u = await person('ghost');
            const [jti] = sessionRows(u.id);
            const tab = copyJar(u.jar);
            // a minute old: the touch writes
            psql(`UPDATE "AuthSession" SET "lastSeenAt" = "lastSeenAt" - interval '5 minutes'
                  WHERE "userId" = ${lit(u.id)}`);
            const release = holdSessionInserts(u.id, 1500);
            let used;
            try {
                const pending = use(tab);
                await sleep(400);       // read as live, its write held
                const out = await signOut(u, jti);
                assert.equal(out.status, 200, out.text);
                used = await pending;
            } finally {
                release();
            }
            assert.equal(used.status, 200, used.text);
            assert.deepEqual(sessionRows(u.id), [], 'no row for the signed-out session');
            // what the user sees: a new sign-in lists itself alone
            const jar = new Jar();
            await signIn(jar, u.user.email, u.user.password);
            const list = await get('/api/account/sessions', { headers: jar.headers() });
            assert.equal(list.status, 200, list.text);
            assert.deepEqual(list.json().map((s) => s.id === jti), [false], JSON.stringify(list.json()));
        });
    }
}

test('a live session without a row (from before rows were kept) gets its row at its next use', async () => {
    const u = await person('rowless');
    const [jti] = sessionRows(u.id);
    psql(`DELETE FROM "AuthSession" WHERE "userId" = ${lit(u.id)}`);
    const res = await get('/api/auth/session', { headers: u.jar.headers() });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().user.email, u.user.email);
    assert.deepEqual(sessionRows(u.id), [jti]);
    psql(`DELETE FROM "AuthSession" WHERE "userId" = ${lit(u.id)}`);
    const r2 = await renew(u.jar);
    assert.equal(r2.status, 200, r2.text);
    assert.deepEqual(sessionRows(u.id), [jti]);
});
