// A database that cancels a statement itself: an operator's lock_timeout
// or statement_timeout (set on the role, or in DATABASE_URL's options, as
// many DBAs do) ends a statement that waits on another session's lock
// with 55P03 or 57014.  Nothing was done, and the same request may well
// succeed in a moment: the answer is 503 database_unavailable, as when
// NANO_DB_TIMEOUT_MS ends the wait, never 500 "internal"; nothing is
// debited, and everything works on once the lock is let go (found by the
// failures probe: 500 "database error", logged as an error).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ORIGIN, REGISTRY, request, sleep } from './lib.mjs';
import { PG_SOCK } from './accounts.mjs';
import {
    person, generate, tag, balanceOf, ledgerSum, psql, lit, withBackendEnv,
    waitFor, lockBalance, lockRow,
} from './generations.mjs';

const LOCK_TIMEOUT_MS = 300;

// DATABASE_URL as the test stack gives it, with server options added.
const urlWith = (opts) => `DATABASE_URL=postgresql://nano@localhost/nano?host=${PG_SOCK}`
    + `&options=${encodeURIComponent(opts)}`;

// Holds a row lock on the user's "User" row until the returned function
// runs (another session's transaction, as lockBalance does for the
// balance).
const lockUser = (userId) => lockRow('User', 'id', userId);

const rename = (jar, name) => request('POST', '/api/account/profile', {
    headers: jar.headers({ 'Content-Type': 'application/json', Origin: ORIGIN }),
    body: JSON.stringify({ name }),
});

test('platform: a statement the server cancels for its lock_timeout answers 503, then works on', async () => {
    await withBackendEnv('platform', [urlWith(`-c lock_timeout=${LOCK_TIMEOUT_MS}`)], async () => {
        const u = await person('busy-platform');
        const first = await rename(u.jar, `First ${tag()}`);
        assert.equal(first.status, 200, first.text);

        const held = `Held ${tag()}`;
        const release = await lockUser(u.id);
        let r, took;
        try {
            const t0 = Date.now();
            r = await rename(u.jar, held);
            took = Date.now() - t0;
        } finally {
            await release();
        }
        assert.equal(r.status, 503, r.text);
        assert.ok(took < 5000, `answered by the server's cancel, not NANO_DB_TIMEOUT_MS (${took} ms)`);
        assert.equal(r.json().error, 'database_unavailable');
        assert.equal(psql(`SELECT count(*) FROM "User" WHERE "name" = ${lit(held)}`), '0');

        const after = await rename(u.jar, `After ${tag()}`);
        assert.equal(after.status, 200, `works on once the lock is let go: ${after.text}`);
    });
});

for (const [m, ok] of [['nano-banana', 202], ['openai', 200]].filter(([n]) => REGISTRY.some((r) => r.name === n))) {
    test(`${m}: an admission the server cancels (lock_timeout, statement_timeout) answers 503, nothing debited`, async () => {
        for (const opts of [`-c lock_timeout=${LOCK_TIMEOUT_MS}`, `-c statement_timeout=${LOCK_TIMEOUT_MS}`]) {
            await withBackendEnv(m, [urlWith(opts)], async () => {
                const u = await person(`busy-${m}`);
                const warm = await generate(u.jar, m, { prompt: `warm ${tag()}` });
                assert.equal(warm.status, ok, warm.text);
                if (ok === 202) await waitFor(u.jar, m, warm.json().id);
                const before = balanceOf(u.id);

                const prompt = `held ${tag()}`;
                const release = await lockBalance(u.id);
                let r, took;
                try {
                    const t0 = Date.now();
                    r = await generate(u.jar, m, { prompt });
                    took = Date.now() - t0;
                } finally {
                    await release();
                }
                assert.equal(r.status, 503, `${opts}: ${r.text}`);
                assert.ok(took < 5000, `answered by the server's cancel, not NANO_DB_TIMEOUT_MS (${took} ms)`);
                assert.equal(r.json().error, 'database_unavailable');
                await sleep(500);
                assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "prompt" = ${lit(prompt)}`), '0',
                    'no generation row');
                assert.equal(balanceOf(u.id), before, 'nothing debited');
                assert.equal(ledgerSum(u.id), balanceOf(u.id));

                const after = await generate(u.jar, m, { prompt: `after ${tag()}` });
                assert.equal(after.status, ok, `the module works on: ${after.text}`);
                if (ok === 202) await waitFor(u.jar, m, after.json().id);
            });
        }
    });
}
