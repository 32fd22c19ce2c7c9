// Paging a long history (docs/MODULES.md: GET /<m>/api/history and the
// platform's GET /api/credits): every row exactly once, newest first,
// with any limit, rows that share a creation time included; rows added
// or deleted while a client walks the pages; nextCursor null exactly on
// the last page; a cursor from another list, user or module, or one made
// up, refused with 400 naming it or showing only the caller's own rows.
// The rows are written here with SQL, as a long-lived account has them.
// The same for the sessions of GET /api/account/sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { REGISTRY, get, decodeJwtPayload, SESSION_COOKIE } from './lib.mjs';
import { psql, lit, person, history, credits } from './generations.mjs';

const m = (REGISTRY.find((x) => x.kind === 'text') || REGISTRY[0]).name;
const other = REGISTRY.find((x) => x.name !== m).name;

// Generation rows for user u in module mod, one per time given (a time
// repeated makes rows that share it to the microsecond); their ids.
function addGenerations(u, mod, times) {
    const ids = times.map(() => crypto.randomUUID());
    psql(`INSERT INTO "Generation" ("id","userId","module","model","kind","status","prompt","cost","createdAt") VALUES
        ${ids.map((id, i) => `(${lit(id)}, ${lit(u.id)}, ${lit(mod)}, 'm', 'text', 'succeeded', ${lit(`row ${i}`)}, 1,
            ${lit(times[i])})`).join(',\n')}`);
    return ids;
}

// The user's generations of mod as the database orders them, newest first.
const newestFirst = (u, mod) => psql(`SELECT string_agg("id", ' ' ORDER BY "createdAt" DESC, "id" DESC)
    FROM "Generation" WHERE "userId" = ${lit(u.id)} AND "module" = ${lit(mod)}`).split(' ').filter(Boolean);

// Every page of a list: [{status, rows, next}], at most `pages` of them;
// between pages, between(i) may change the rows.
async function walk(read, limit, { pages = 200, between = () => {} } = {}) {
    const out = [];
    let cursor = null;
    for (let i = 0; i < pages; i++) {
        const res = await read(`?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(res.status, 200, `page ${i} (limit ${limit}, cursor ${cursor}): ${res.text.slice(0, 200)}`);
        const j = res.json();
        const rows = j.items || j.ledger || j.sessions;
        out.push({ rows, next: j.nextCursor });
        cursor = j.nextCursor;
        if (cursor === null) break;
        assert.equal(typeof cursor, 'string');
        await between(i);
    }
    return out;
}

// nextCursor null on the last page and on no other; no empty page.
function endsRight(pages, limit, total) {
    assert.equal(pages.length, Math.max(1, Math.ceil(total / limit)), `pages of ${limit} for ${total} rows`);
    pages.forEach((p, i) => {
        const last = i === pages.length - 1;
        assert.equal(p.next === null, last, `page ${i}: nextCursor ${p.next}`);
        if (!last) assert.equal(p.rows.length, limit, `page ${i} is full`);
    });
}

test('history: rows sharing a createdAt to the microsecond are each listed once, newest first, with every limit', async () => {
    const u = await person('page-ties');
    const times = [];
    // three rows per time, five times: every page boundary falls inside a tie
    for (const t of ['2026-03-01 10:00:00.123', '2026-03-01 10:00:00.124', '2026-02-01 00:00:00',
        '2025-12-31 23:59:59.999', '2025-12-31 23:59:59.998']) {
        times.push(t, t, t);
    }
    addGenerations(u, m, times);
    const want = newestFirst(u, m);
    assert.equal(want.length, 15);
    for (const limit of [1, 2, 3, 4, 5, 7, 14, 15, 16, 100]) {
        const pages = await walk((q) => history(u.jar, m, q), limit);
        const got = pages.flatMap((p) => p.rows.map((r) => r.id));
        assert.deepEqual(got, want, `limit ${limit}: every row once, newest first`);
        endsRight(pages, limit, want.length);
        const at = pages.flatMap((p) => p.rows.map((r) => r.createdAt));
        for (let i = 1; i < at.length; i++) assert.ok(at[i - 1] >= at[i], `limit ${limit}: createdAt descending at ${i}`);
    }
    // another module's rows of the same user and times stay out
    addGenerations(u, other, times.slice(0, 3));
    assert.deepEqual((await walk((q) => history(u.jar, m, q), 4)).flatMap((p) => p.rows.map((r) => r.id)), want);
});

test('history: rows added while walking neither repeat nor shift a page; a deleted row\'s cursor still pages', async () => {
    const u = await person('page-walk');
    const base = Date.UTC(2026, 0, 10);
    const iso = (ms) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
    addGenerations(u, m, Array.from({ length: 12 }, (_, i) => iso(base - i * 1000)));
    const want = newestFirst(u, m);
    let added = 0;
    const pages = await walk((q) => history(u.jar, m, q), 3, {
        between: (i) => {
            // a new generation (newer than all), and one that shares the
            // time of the row the cursor names
            addGenerations(u, m, [iso(base + 60000 + i)]);
            const last = want[(i + 1) * 3 - 1];
            psql(`INSERT INTO "Generation" ("id","userId","module","model","kind","status","cost","createdAt")
                SELECT ${lit('ffffffff-ffff-4fff-bfff-' + String(i).padStart(12, '0'))}, "userId", "module", 'm', 'text',
                'succeeded', 1, "createdAt" FROM "Generation" WHERE "id" = ${lit(last)}`);
            added += 2;
        },
    });
    const got = pages.flatMap((p) => p.rows.map((r) => r.id));
    assert.equal(new Set(got).size, got.length, 'no row twice');
    assert.deepEqual(got, want, 'the rows there when the walk began, in their order, pages unshifted');
    assert.ok(added > 0);

    // the row the cursor names, and the next ones, deleted between pages
    const v = await person('page-deleted');
    addGenerations(v, m, Array.from({ length: 9 }, (_, i) => iso(base - i * 1000)));
    const all = newestFirst(v, m);
    const seen = await walk((q) => history(v.jar, m, q), 4, {
        between: (i) => {
            if (i === 0) psql(`DELETE FROM "Generation" WHERE "id" IN (${lit(all[3])}, ${lit(all[4])})`);
        },
    });
    assert.deepEqual(seen.flatMap((p) => p.rows.map((r) => r.id)), [...all.slice(0, 4), ...all.slice(5)]);
    assert.equal(seen.at(-1).next, null);
});

test('history and ledger: limit bounds and cursors from elsewhere are 400 naming the field, never 500 or another user\'s rows', async () => {
    const u = await person('page-bounds');
    const v = await person('page-bounds-other');
    addGenerations(u, m, Array.from({ length: 5 }, (_, i) => `2026-01-0${i + 1} 00:00:00`));
    addGenerations(v, m, Array.from({ length: 5 }, (_, i) => `2026-01-0${i + 1} 00:00:00`));
    addGenerations(u, other, ['2026-02-01 00:00:00', '2026-02-02 00:00:00']);
    const mine = newestFirst(u, m);
    const hist = (q) => history(u.jar, m, q);
    const ledger = (q) => credits(u.jar, q);

    for (const [read, name] of [[hist, 'history'], [ledger, 'ledger']]) {
        for (const [q, field] of [['?limit=0', 'limit'], ['?limit=101', 'limit'], ['?limit=-1', 'limit'],
            ['?limit=abc', 'limit'], ['?limit=1e2', 'limit'], ['?limit=99999999999999999999999999', 'limit'],
            ['?limit=1&limit=2', 'limit'], ['?limit=%205', 'limit'], ['?cursor=x&cursor=y', 'cursor']]) {
            const res = await read(q);
            assert.equal(res.status, 400, `${name} ${q}: ${res.status} ${res.text.slice(0, 200)}`);
            assert.equal(res.json().error, 'invalid_field', `${name} ${q}`);
            assert.equal(res.json().field, field, `${name} ${q}`);
        }
        for (const q of ['?limit=1', '?limit=100', '?limit=007', '?limit=']) {
            assert.equal((await read(q)).status, 200, `${name} ${q}`);
        }
    }

    // a ledger cursor on history and a history cursor on the ledger
    const hcur = (await hist('?limit=1')).json().nextCursor;
    const lcur = String(Number(psql(`SELECT max("id") FROM "CreditLedger" WHERE "userId" = ${lit(u.id)}`)) + 1);
    const refusedCursors = [
        [hist, lcur], [ledger, hcur],
        [hist, hcur.slice(0, 10)], [hist, hcur.slice(0, -3)], [hist, `${hcur}|x`], [hist, `${hcur}'; DROP TABLE "User"; --`],
        [hist, hcur.replace('|', '|\' OR 1=1 --')], [hist, `${hcur.split('|')[0]}|${'a'.repeat(200)}`],
        [hist, 'x'.repeat(4000)], [hist, Buffer.from(hcur).toString('base64')],
        [ledger, `${lcur}'`], [ledger, `${lcur} OR 1=1`], [ledger, '1'.repeat(40)], [ledger, `-${lcur}`], [ledger, 'x'.repeat(4000)],
    ];
    for (const [read, c] of refusedCursors) {
        const res = await read(`?cursor=${encodeURIComponent(c)}`);
        assert.equal(res.status, 400, `cursor ${JSON.stringify(c.slice(0, 80))}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.json().field, 'cursor');
    }

    // another user's or module's cursor pages the caller's own rows only
    const theirs = (await history(v.jar, m, '?limit=2')).json().nextCursor;
    const got = (await hist(`?limit=100&cursor=${encodeURIComponent(theirs)}`)).json();
    const vIds = new Set(newestFirst(v, m));
    assert.ok(got.items.every((r) => !vIds.has(r.id)), 'none of the other user\'s rows');
    assert.ok(got.items.every((r) => mine.includes(r.id)), 'only the caller\'s rows of this module');
    const fromOther = (await history(u.jar, other, '?limit=1')).json().nextCursor;
    const res = await hist(`?limit=100&cursor=${encodeURIComponent(fromOther)}`);
    assert.equal(res.status, 200);
    assert.ok(res.json().items.every((r) => mine.includes(r.id)));
});

test('ledger: every row once, newest first, with every limit; rows added while walking do not shift a page', async () => {
    const u = await person('page-ledger');
    // rows sharing a createdAt, as one transaction writes them
    psql(`INSERT INTO "CreditLedger" ("userId","delta","reason","note","createdAt")
        SELECT ${lit(u.id)}, 1, 'adjustment', 'tie ' || g, '2026-01-01 00:00:00' FROM generate_series(1, 11) g`);
    const want = JSON.parse(psql(`SELECT json_agg("id" ORDER BY "id" DESC) FROM "CreditLedger" WHERE "userId" = ${lit(u.id)}`));
    const notes = JSON.parse(psql(`SELECT json_agg("note" ORDER BY "id" DESC) FROM "CreditLedger" WHERE "userId" = ${lit(u.id)}`));
    assert.equal(want.length, 12, 'the signup grant and 11 rows');
    for (const limit of [1, 2, 5, 11, 12, 13, 100]) {
        const pages = await walk((q) => credits(u.jar, q), limit);
        assert.deepEqual(pages.flatMap((p) => p.rows.map((r) => r.note)), notes, `limit ${limit}`);
        endsRight(pages, limit, want.length);
    }
    const pages = await walk((q) => credits(u.jar, q), 5, {
        between: () => psql(`INSERT INTO "CreditLedger" ("userId","delta","reason","note") VALUES (${lit(u.id)}, 1, 'adjustment', 'later')`),
    });
    assert.deepEqual(pages.flatMap((p) => p.rows.map((r) => r.note)), notes, 'rows added meanwhile are not in this walk');
});

// Until 2026-12-07 GET /api/account/sessions answered every live session
// at once: a script that signs in (10 a minute pass nginx) leaves a row
// per sign-in for 30 days, and 20,000 of them were an 8 MB answer built
// in the platform's memory and as many rows on the settings page (found
// by the deletion probe).  Pages are newest sign-in first: the last use
// moves a session while a client pages, its sign-in never does.
test('sessions: thousands come a page at a time, each once, newest sign-in first, the current one marked; bounds and made-up cursors 400', async () => {
    const u = await person('page-sessions');
    const v = await person('page-sessions-other');
    const mine = decodeJwtPayload(u.jar.get(SESSION_COOKIE)).jti;
    const N = 3000;
    // three sessions per millisecond: page boundaries fall inside ties;
    // and expired ones, never listed
    psql(`INSERT INTO "AuthSession" ("id","userId","createdAt","lastSeenAt","ipAddress","userAgent","expires")
        SELECT gen_random_uuid()::text, ${lit(u.id)},
            timestamp '2026-11-20 12:00:00' - (g / 3) * interval '1 millisecond',
            (now() AT TIME ZONE 'utc') - g * interval '1 second', '10.0.0.' || (g % 250), 'a script/' || g,
            extract(epoch FROM now())::bigint + CASE WHEN g % 100 = 0 THEN -60 ELSE 86400 END
        FROM generate_series(1, ${N}) AS g`);
    const want = psql(`SELECT string_agg("id", ' ' ORDER BY "createdAt" DESC, "id" DESC) FROM "AuthSession"
        WHERE "userId" = ${lit(u.id)} AND "expires" > extract(epoch FROM now())`).split(' ');
    assert.equal(want.length, N - N / 100 + 1);
    const read = (q) => get(`/api/account/sessions${q}`, { headers: u.jar.headers() });

    const first = await read('');
    assert.equal(first.status, 200, first.text.slice(0, 200));
    assert.equal(first.json().sessions.length, 50, 'a page of 50 unless asked');
    assert.equal(first.json().sessions[0].id, mine, 'the newest sign-in first: this one');
    assert.equal(first.json().sessions[0].current, true);
    for (const limit of [100, 7]) {
        const pages = await walk(read, limit, { pages: 1000 });
        const got = pages.flatMap((p) => p.rows.map((r) => r.id));
        assert.deepEqual(got, want, `limit ${limit}: every live session once, newest sign-in first`);
        endsRight(pages, limit, want.length);
        assert.deepEqual(pages.flatMap((p) => p.rows.filter((r) => r.current).map((r) => r.id)), [mine]);
    }

    for (const [q, field] of [['?limit=0', 'limit'], ['?limit=101', 'limit'], ['?limit=abc', 'limit'],
        ['?cursor=x&cursor=y', 'cursor']]) {
        const res = await read(q);
        assert.equal(res.status, 400, `${q}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.json().field, field, q);
    }
    const cur = first.json().nextCursor;
    for (const c of ['x', `|${mine}`, `${cur.split('|')[0]}|`, '2026-13-01 00:00:00.000000|a',
        `${cur.split('|')[0]}'; DROP TABLE "User"; --|a`, 'x'.repeat(4000), '12']) {
        const res = await read(`?cursor=${encodeURIComponent(c)}`);
        assert.equal(res.status, 400, `cursor ${JSON.stringify(c.slice(0, 80))}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.json().field, 'cursor');
    }
    // another user's cursor pages the caller's own sessions only
    psql(`INSERT INTO "AuthSession" ("id","userId","createdAt","expires")
        SELECT gen_random_uuid()::text, ${lit(v.id)}, timestamp '2026-11-20 12:00:00' - g * interval '100 milliseconds',
            extract(epoch FROM now())::bigint + 86400 FROM generate_series(1, 5) AS g`);
    const theirs = (await get('/api/account/sessions?limit=2', { headers: v.jar.headers() })).json().nextCursor;
    const res = await read(`?limit=100&cursor=${encodeURIComponent(theirs)}`);
    assert.equal(res.status, 200, res.text.slice(0, 200));
    assert.ok(res.json().sessions.length > 0 && res.json().sessions.every((s) => want.includes(s.id)), 'only the caller\'s');
});
