// Account deletion at scale (docs/PLATFORM.md "Account deletion"): a
// heavy account's answer does not wait for its files, which go after the
// commit off the request.  The files are made here directly, as a
// long-lived account has them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { retry } from './lib.mjs';
import { account } from './accounts.mjs';
import { person, MEDIA_DIR, filesBelow } from './generations.mjs';

// <media>/<folder>/<user>/<generation>/0.png for n generations, as a
// module's runner leaves them.
function heavyFolder(folder, userId, n) {
    const dir = path.join(MEDIA_DIR, folder, userId);
    for (let i = 0; i < n; i++) {
        const g = path.join(dir, crypto.randomUUID());
        fs.mkdirSync(g, { recursive: true });
        fs.writeFileSync(path.join(g, '0.png'), 'x');
    }
    return dir;
}

// Until 2026-12-07 the platform removed a deleted account's files inside
// the request, after the commit: a heavy account (100,000 generations'
// folders took minutes on a busy disk) was answered by nginx's 504 after
// 60 s while its deletion had long committed, and its cookie was never
// cleared (found by the deletion probe).
test('a heavy account\'s deletion answers at its commit; its files go after the answer, all of them', async () => {
    const u = await person('heavydel');
    // a module taken out of the registry: only the platform removes it
    const folder = `retired-${crypto.randomBytes(3).toString('hex')}`;
    const N = 20000;
    const dir = heavyFolder(folder, u.id, N);
    try {
        const t0 = Date.now();
        const res = await account('DELETE', '/api/account', u.jar, { password: u.user.password });
        const took = Date.now() - t0;
        assert.equal(res.status, 200, res.text);
        const left = fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
        console.log(`deletion answered in ${took} ms; ${left} of ${N} folders still there`);
        assert.ok(left > 0, `the answer (after ${took} ms) waited for the removal of ${N} folders`);
        assert.ok(await retry(() => !fs.existsSync(dir), 120000, 500),
            `the deleted account's files go after the answer: ${filesBelow(dir).length} left`);
    } finally {
        fs.rmSync(path.join(MEDIA_DIR, folder), { recursive: true, force: true });
    }
});

