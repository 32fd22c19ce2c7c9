// GET /api/account/export streams its file (docs/PLATFORM.md "Data
// export"): the platform built the whole JSON in memory, so 20,000 text
// generations outlasted nginx's read timeout (504) and four exports at
// once took the process from 15 to 134 MB.  Here: a large account's file
// comes whole, every row once and newest first, while the platform's
// memory stays far below the file's size; a database failure mid-stream
// leaves a file that does not parse, never a shorter one that does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ORIGIN, get, sleep } from './lib.mjs';
import {
    psql, lit, person, secondBackend, platformRss, bulkGenerations, expectedOrder, exportOf,
    exportCutByDatabase,
} from './generations.mjs';
import { fcgiStream, nginxParams } from './fcgi.mjs';

const MIB = 1024 * 1024;

test('GET /api/account/export: 20,000 generations of 8 KB stream whole, every row once, newest first, in little memory', async (t) => {
    const u = await person('export-big');
    const N = 20000;
    bulkGenerations(u, N);
    const order = expectedOrder(u);

    const before = platformRss();
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, platformRss()); }, 20);
    let r;
    try {
        r = await exportOf(u.jar);
    } finally {
        clearInterval(sampler);
    }
    assert.equal(r.status, 200, r.body.slice(0, 300));
    assert.ok(!r.aborted, 'the answer came whole');
    // no bound on the whole time: nginx's read timeout is between two reads
    // of a stream, and the old code's 504 fails the status above
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.headers['content-disposition'], `attachment; filename="nano-export-${new Date().toISOString().slice(0, 10)}.json"`);
    const x = JSON.parse(r.body);
    assert.deepEqual(Object.keys(x), ['exportedAt', 'profile', 'accounts', 'sessions', 'credits', 'generations'], 'the keys in the order they always had');
    assert.equal(x.profile.id, u.id);
    assert.equal(x.generations.length, N);
    assert.equal(crypto.createHash('md5').update(x.generations.map((g) => g.id).join(',')).digest('hex'), order,
        'every row once, newest first, ties by id');
    const g = x.generations.find((e) => e.prompt === 'question 7');
    assert.equal(g.text, `7${' an "exported" answer\n'.repeat(400)}`);
    assert.equal(g.module, 'qwen');
    const size = Buffer.byteLength(r.body);
    assert.ok(size > 150 * MIB, `a large file (${(size / MIB).toFixed(1)} MiB)`);
    const grown = (peak - before) * 1024;
    t.diagnostic(`${(size / MIB).toFixed(1)} MiB in ${r.ms} ms (first byte after ${r.firstByteMs} ms); the platform grew by ${(grown / MIB).toFixed(1)} MiB`);
    assert.ok(grown < 32 * MIB && grown < size / 5,
        `the platform grew by ${(grown / MIB).toFixed(1)} MiB for a ${(size / MIB).toFixed(1)} MiB file`);
    psql(`DELETE FROM "Generation" WHERE "userId" = ${lit(u.id)}`);
});

// The status line has gone out when the database fails: the file must
// end unfinished (no closing "]}"), never parse as a whole one lacking
// rows.  The reader pauses so the export waits in the middle, its
// database connection is terminated, then the reader goes on.
test('GET /api/account/export: the database failing mid-stream leaves a file that does not parse; the next export is whole', async () => {
    const u = await person('export-cut');
    const N = 4000;
    bulkGenerations(u, N);
    // the export's connection: in its transaction, last fetching from
    // its cursor over the generations
    const r = await exportCutByDatabase(u.jar, {
        path: '/api/account/export',
        pauseAfter: MIB,
        queryLike: 'FETCH FORWARD % FROM "nano_gen_each"',
    });
    assert.equal(r.status, 200, 'the headers had gone out');
    assert.ok(r.body.startsWith('{"exportedAt":'), r.body.slice(0, 100));
    assert.ok(r.body.length > MIB, 'the rows before the failure came');
    assert.throws(() => JSON.parse(r.body), SyntaxError, 'an unfinished file does not parse');
    assert.ok(!r.body.endsWith(']}'), 'no closing of the generations');
    assert.ok(r.aborted, 'the response was cut short: the browser says the download failed');

    // the platform's pool replaced the connection: the next export is whole
    const again = await exportOf(u.jar);
    assert.equal(again.status, 200);
    assert.equal(JSON.parse(again.body).generations.length, N);
    psql(`DELETE FROM "Generation" WHERE "userId" = ${lit(u.id)}`);
});

// An export holds a database connection and a worker while it writes:
// eight at once held all eight of the platform's connections, and every
// other request waited for one and answered 503.  At most half the pool
// (8 / 2 = 4) export at once; one beyond is refused at once, and the
// rest of the platform answers meanwhile.  Readers paused after their
// first bytes keep four exports writing, each another user's (one user
// has one at a time).
test('GET /api/account/export: four exports at once hold half the database pool; a fifth answers 429 too_many_exports, the rest go on', async () => {
    const users = [];
    for (let i = 0; i < 5; i++) users.push(await person(`export-slots${i}`));
    const u = users[4];
    const N = 3000;
    for (const one of users.slice(0, 4)) bulkGenerations(one, N);
    const resumes = [];
    const started = [];
    const exports = users.slice(0, 4).map((one) => {
        let begun;
        let paused = false;
        started.push(new Promise((r) => { begun = r; }));
        return exportOf(one.jar, {
            onChunk: (res) => {
                if (paused) return;
                paused = true;
                res.pause();
                resumes.push(() => res.resume());
                begun();
            },
        });
    });
    try {
        await Promise.all(started);
        const fifth = await exportOf(u.jar, { timeout: 5000 });
        assert.equal(fifth.status, 429, fifth.body.slice(0, 200));
        assert.equal(JSON.parse(fifth.body).error, 'too_many_exports');
        assert.equal(fifth.headers['retry-after'], '1');
        // the connections left serve everything else, at once
        for (let i = 0; i < 8; i++) {
            const t0 = Date.now();
            const credits = await get('/api/credits', { headers: u.jar.headers(), timeout: 5000 });
            assert.equal(credits.status, 200, credits.text);
            assert.ok(Date.now() - t0 < 2000, `the credits answered after ${Date.now() - t0} ms`);
        }
    } finally {
        for (const go of resumes) go();
    }
    for (const r of await Promise.all(exports)) {
        assert.equal(r.status, 200);
        assert.equal(JSON.parse(r.body).generations.length, N);
    }
    const after = await exportOf(u.jar);
    assert.equal(after.status, 200, 'the places came back');
    for (const one of users) psql(`DELETE FROM "Generation" WHERE "userId" = ${lit(one.id)}`);
});

// A stop lets the requests in flight end within the workers' grace
// (10 s, docs/OPERATIONS.md).  The stop's wake-up signal reached each
// worker while it served, and a write that waited for a slow reader
// failed with EINTR, which libfcgi takes for a lost connection: a
// platform stopped by systemctl cut every export and stream to a slow
// client within milliseconds, and logged that the client had left
// (found by the lifecycle probe).  A second platform process is stopped
// here, its reader paused (nginx passes an export on unbuffered), so the
// export waits in a write at the signal.
test('GET /api/account/export: a platform stopped with SIGTERM while a slow reader downloads still sends the whole file, then exits 0', async () => {
    const u = await person('export-stop');
    const N = 2000;
    bulkGenerations(u, N);
    const second = await secondBackend('platform');
    try {
        const exited = new Promise((resolve) => second.child.on('exit', (code, sig) => resolve({ code, sig })));
        const { socket, done } = fcgiStream(second.sock, {
            params: nginxParams({
                path: '/api/account/export', authOrigin: ORIGIN, extra: [['HTTP_COOKIE', u.jar.headers().Cookie]],
            }),
            timeout: 60000,
        });
        socket.pause();
        await sleep(500);               // the export fills the socket and waits
        second.child.kill('SIGTERM');
        await sleep(1000);
        socket.resume();
        const r = await done;           // rejects on a connection cut short
        assert.equal(r.status, 200, r.text.slice(0, 300));
        assert.equal(JSON.parse(r.text).generations.length, N, 'the whole file');
        assert.deepEqual(await exited, { code: 0, sig: null }, 'it stopped once the export was sent');
        assert.match(second.log(), new RegExp(`exported the account's data \\(${N} generations\\)`));
        assert.doesNotMatch(second.log(), /went away|client left/);
    } finally {
        await second.stop();
        psql(`DELETE FROM "Generation" WHERE "userId" = ${lit(u.id)}`);
    }
});
