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
// - a change that re-issues the cookie (a name, an avatar) made it from
//   the user as its request first read it: a rename in one tab while an
//   avatar went up in another left a cookie with one of the two changes
//   missing, and the modules' header showed the old name or no picture
//   until the next renewal, a day later.
// - a sign-in attempt counted for an account whose throttle row another
//   request removed meanwhile (a right password's sign-in in another tab
//   clears it, the minutely cleanup drops old ones) found no row to
//   count in and answered 500.
// - a request that left with the cookie a password change (in another
//   tab, or the same form sent twice) was just replacing answered with
//   that old copy refused and its cookie cleared: arriving after the
//   change's answer, the clearing took the new cookie with it, and the
//   browser was signed out by its own password change.
// - a checkout whose account was deleted (another tab) while Stripe was
//   asked for its session still sent the buyer to pay: the webhook then
//   grants a deleted account nothing.
import { test } from 'node:test';
import crypto from 'node:crypto';
import assert from 'node:assert/strict';
import {
    get, request, csrf, form, signIn, Jar, ORIGIN, SESSION_COOKIE,
    decodeJwtPayload, retry,
} from './lib.mjs';
import {
    account, copyJar, FORM, clearsSession, assertRefusedWithin,
} from './accounts.mjs';
import { psql, lit, person, multipart, png, holdInPsql } from './generations.mjs';
import { checkout } from './billing.mjs';

// Holds every INSERT and UPDATE of one user's "AuthSession" rows for ms,
// the time a busy database may take; () => drops it.
function holdSessionWrites(userId, ms) {
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
            const release = holdSessionWrites(u.id, 1500);
            let used;
            try {
                const pending = use(tab);
                // read as live, its write held (a fixed pause could end
                // before the write began on a slow host, and prove nothing)
                await running('WITH up AS (UPDATE "AuthSession"%');
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
            assert.deepEqual(list.json().sessions.map((s) => s.id === jti), [false], JSON.stringify(list.json()));
        });
    }
}

// Holds every write of one user's "SessionCutoff" row for ms.
function holdCutoffWrites(userId, ms) {
    const name = `races_cut_${userId.replace(/[^a-z0-9]/gi, '').slice(0, 24)}`;
    psql(`CREATE FUNCTION "${name}"() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(${ms / 1000}); RETURN NEW; END $$;
        CREATE TRIGGER "${name}" BEFORE INSERT OR UPDATE ON "SessionCutoff" FOR EACH ROW
            WHEN (NEW."userId" = ${lit(userId)}) EXECUTE FUNCTION "${name}"();`);
    return () => psql(`DROP TRIGGER IF EXISTS "${name}" ON "SessionCutoff";
        DROP FUNCTION IF EXISTS "${name}"();`);
}

// Waits until a statement matching like is running (held by a trigger).
async function running(like) {
    const ok = await retry(() => Number(psql(`SELECT count(*) FROM pg_stat_activity
        WHERE state = 'active' AND query LIKE ${lit(like)} AND pid <> pg_backend_pid()`)) > 0, 10000, 50);
    assert.ok(ok, `a statement like ${like} is running`);
}

// What settings lists for the user, from a new sign-in; and whether each
// jar's session is live (/api/auth/session answers it).
async function listed(u) {
    const jar = new Jar();
    await signIn(jar, u.user.email, u.user.password);
    const list = await get('/api/account/sessions', { headers: jar.headers() });
    assert.equal(list.status, 200, list.text);
    return list.json().sessions.filter((s) => !s.current).map((s) => s.id);
}
const live = async (jar) => Boolean((await get('/api/auth/session', { headers: jar.headers() })).json().user);

// A sign-in records its session in the transaction that read the user;
// "sign out everywhere" deleted the rows it could see, so one made by a
// sign-in still under way stayed: a dead session (its iat before the
// cut-off) listed in settings for 30 days (found by the authedges probe).
test('a sign-in under way when "sign out everywhere" commits: its session is ended and not listed', async () => {
    const u = await person('cutsignin');
    const jar = new Jar();
    const release = holdSessionWrites(u.id, 1500);
    let res;
    try {
        const pending = signIn(jar, u.user.email, u.user.password);
        await running('INSERT INTO "AuthSession"%');      // its row, held
        const out = await account('POST', '/api/account/signout-all', u.jar, {});
        assert.equal(out.status, 200, out.text);
        res = await pending;
    } finally {
        release();
    }
    assert.equal(res.status, 302, res.text);
    const { jti } = decodeJwtPayload(jar.get(SESSION_COOKIE));
    assert.equal(await live(jar), false, 'signed out everywhere after it: ended');
    assert.deepEqual(sessionRows(u.id), [], 'no row for the ended session');
    assert.ok(!(await listed(u)).includes(jti), 'not listed');
});

// The other order: a sign-in that read the user while "sign out
// everywhere" was being written took the cut-off from before it, so its
// new session was dead at once, and listed.
test('a sign-in that reaches the account while "sign out everywhere" is written: its session lives and is listed', async () => {
    const u = await person('cutfirst');
    const jar = new Jar();
    const release = holdCutoffWrites(u.id, 4000);   // past the sign-in's bcrypt
    let res;
    try {
        const out = account('POST', '/api/account/signout-all', u.jar, {});
        await running('WITH cut AS (INSERT INTO "SessionCutoff"%');
        res = await signIn(jar, u.user.email, u.user.password);
        assert.equal((await out).status, 200);
    } finally {
        release();
    }
    assert.equal(res.status, 302, res.text);
    const { jti } = decodeJwtPayload(jar.get(SESSION_COOKIE));
    const alive = await live(jar);
    const rows = sessionRows(u.id);
    assert.ok(alive === rows.includes(jti), `live ${alive}, rows ${rows}: a row exactly when it lives`);
    assert.equal(alive, true, 'signed in after the sign-out: it lives');
    assert.ok((await listed(u)).includes(jti), 'and is listed');
});

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

test('a rename in one tab while an avatar goes up in another: the last cookie carries both', async () => {
    const u = await person('both');
    const tab = copyJar(u.jar);
    const name = `races_slow_${u.id.replace(/[^a-z0-9]/gi, '').slice(0, 24)}`;
    // the avatar's write held 1.5 s with the user's row locked, as a
    // busy database would
    psql(`CREATE FUNCTION "${name}"() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$;
        CREATE TRIGGER "${name}" BEFORE UPDATE ON "User" FOR EACH ROW
            WHEN (NEW."id" = ${lit(u.id)} AND NEW."image" IS DISTINCT FROM OLD."image")
            EXECUTE FUNCTION "${name}"();`);
    let avatar;
    let renamed;
    try {
        const body = multipart({}, [{ name: 'image', filename: 'me.png', type: 'image/png', data: png(64, 64) }]);
        const pending = request('POST', '/api/account/avatar', {
            headers: u.jar.headers({ 'Content-Type': body.type, Origin: ORIGIN }), body: body.body,
        });
        assert.ok(await retry(() => psql(`SELECT count(*) FROM pg_stat_activity
            WHERE "query" LIKE 'UPDATE "User" SET "image"%' AND "state" = 'active'`) === '1', 5000, 20),
        'the avatar is being written');
        renamed = account('POST', '/api/account/profile', tab, { name: 'Renamed Meanwhile' });
        avatar = await pending;
        renamed = await renamed;
    } finally {
        psql(`DROP TRIGGER IF EXISTS "${name}" ON "User"; DROP FUNCTION IF EXISTS "${name}"();`);
    }
    assert.equal(avatar.status, 200, avatar.text);
    assert.equal(renamed.status, 200, renamed.text);
    // the browser keeps the cookie that came last: the rename's
    u.jar.apply(avatar);
    u.jar.apply(renamed);
    const tok = decodeJwtPayload(u.jar.get(SESSION_COOKIE));
    assert.equal(tok.name, 'Renamed Meanwhile');
    assert.equal(tok.picture, avatar.json().image, 'the picture is in the last cookie');
    assert.deepEqual(renamed.json(), { name: 'Renamed Meanwhile', image: avatar.json().image });
    const me = await get('/qwen/api/me', { headers: u.jar.headers() });
    assert.equal(me.json().name, 'Renamed Meanwhile');
});

test('a sign-in whose throttle row goes while it is counted is still counted and signs in', async () => {
    const u = await person('throttle');
    const key = crypto.createHash('sha256').update(u.user.email).digest('hex');
    // a first wrong password: the account has a row
    const wrong = await signIn(new Jar(), u.user.email, 'not the password');
    assert.equal(wrong.status, 302);
    assert.equal(psql(`SELECT "attempts" FROM "SignInThrottle" WHERE "key" = ${lit(key)}`), '1');
    // another request holds the row and then removes it, as a right
    // password's sign-in clears it
    const holder = await holdInPsql(`BEGIN; SELECT 'held' FROM "SignInThrottle" WHERE "key" = ${lit(key)} FOR UPDATE;`);
    const jar = new Jar();
    const pending = signIn(jar, u.user.email, u.user.password);
    assert.ok(await retry(() => psql(`SELECT count(*) FROM pg_stat_activity
        WHERE "query" LIKE '%"SignInThrottle"%' AND "wait_event_type" = 'Lock'`) === '1',
    5000, 20), 'the sign-in waits for the row');
    await holder.release(`DELETE FROM "SignInThrottle" WHERE "key" = ${lit(key)}; COMMIT;`);
    const res = await pending;
    assert.equal(res.status, 302, res.text.slice(0, 300));
    assert.ok(jar.get(SESSION_COOKIE), 'signed in');
});

test('requests that left with the cookie a password change replaced do not sign the browser out', async () => {
    const u = await person('pwtwice');
    const old = copyJar(u.jar);
    const newPassword = `${u.user.password}-new`;
    const changed = await account('POST', '/api/account/password', u.jar, { currentPassword: u.user.password, newPassword });
    assert.equal(changed.status, 200, changed.text);
    u.jar.apply(changed);
    // answered after the change, with the cookie they left with: the
    // useSession() poll, a rename, the same form sent twice
    const late = {
        session: await get('/api/auth/session', { headers: old.headers() }),
        profile: await account('POST', '/api/account/profile', old, { name: 'Late Rename' }),
        twice: await account('POST', '/api/account/password', old, { currentPassword: u.user.password, newPassword }),
    };
    assert.deepEqual(late.session.json(), {}, 'the old copy has no session');
    assert.equal(late.profile.status, 401, late.profile.text);
    assert.equal(late.twice.status, 401, late.twice.text);
    for (const [what, r] of Object.entries(late)) {
        assert.ok(!clearsSession(r), `${what}: the browser's new cookie is left alone: ${r.setCookies.join(' | ')}`);
        u.jar.apply(r);
    }
    const me = await get('/qwen/api/me', { headers: u.jar.headers() });
    assert.equal(me.status, 200, 'the browser is still signed in');
    const s = await get('/api/auth/session', { headers: u.jar.headers() });
    assert.equal(s.json().user?.email, u.user.email);
    // the old copy (a thief's as well) stays refused everywhere
    await assertRefusedWithin(assert, [old], 'the cookie the password change replaced');
});

test('a checkout whose account is deleted meanwhile does not send the buyer to pay', async () => {
    const u = await person('buygone');
    const name = `races_buy_${u.id.replace(/[^a-z0-9]/gi, '').slice(0, 24)}`;
    // the purchase's row held 1.5 s, as a busy database would, while the
    // other tab deletes the account
    psql(`CREATE FUNCTION "${name}"() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$;
        CREATE TRIGGER "${name}" BEFORE INSERT ON "Purchase" FOR EACH ROW
            WHEN (NEW."userId" = ${lit(u.id)}) EXECUTE FUNCTION "${name}"();`);
    let res;
    try {
        const pending = checkout(u.jar, { pack: 'starter' });
        assert.ok(await retry(() => psql(`SELECT count(*) FROM pg_stat_activity
            WHERE "query" LIKE 'INSERT INTO "Purchase"%' AND "state" = 'active'`) === '1', 5000, 20),
        'the purchase is being stored');
        const gone = await account('DELETE', '/api/account', copyJar(u.jar), { password: u.user.password });
        assert.equal(gone.status, 200, gone.text);
        res = await pending;
    } finally {
        psql(`DROP TRIGGER IF EXISTS "${name}" ON "Purchase"; DROP FUNCTION IF EXISTS "${name}"();`);
    }
    assert.equal(res.status, 401, `no Stripe page for a deleted account: ${res.status} ${res.text.slice(0, 200)}`);
    assert.equal(res.json().error, 'unauthorized');
    assert.equal(psql(`SELECT count(*) FROM "Purchase" WHERE "userId" = ${lit(u.id)} AND "status" = 'open'`), '0');
});
