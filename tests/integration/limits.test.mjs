// Resource limits under abuse (docs/MODULES.md "libnano runtime",
// docs/SESSIONS.md "Bounded bcrypt"): what one client's flood holds of
// a process's shared resources, and that everyone else still gets theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync, execFileSync } from 'node:child_process';
import {
    ORIGIN, Jar, get, request, form, csrf, newUser, register, signIn, sleep,
    keepRunning,
} from './lib.mjs';
import {
    withBackendEnv, backendEnv, person, generate, history, stream, setBalance,
    waitFor, waitSql, multipart, png, row, lit, psql, balanceOf, ROOT, MEDIA_DIR,
    lockBalance,
} from './generations.mjs';
import { account } from './accounts.mjs';

keepRunning(['platform']);

// Wrong sign-ins for emails nobody has (no per-account lock), n at a time
// until stop() is called; each from a client of its own (the test stack's
// rate limit is keyed on X-Nano-Test-Client).  -> {stop(): codes}
async function signinFlood(n) {
    const jars = [];
    for (let i = 0; i < n; i++) {
        const jar = new Jar();
        jars.push([jar, await csrf(jar)]);
    }
    const codes = {};
    let stopped = false;
    const loops = jars.map(async ([jar, token]) => {
        while (!stopped) {
            const id = crypto.randomBytes(6).toString('hex');
            const res = await request('POST', '/api/auth/callback/credentials', {
                headers: jar.headers({
                    'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN,
                    'X-Nano-Test-Client': `flood-${id}`,
                }),
                body: form({ csrfToken: token, email: `flood-${id}@example.com`,
                    password: 'wrong-password-123', callbackUrl: '/', json: 'true' }),
                timeout: 30000,
            });
            codes[res.status] = (codes[res.status] || 0) + 1;
        }
    });
    return {
        async stop() {
            stopped = true;
            await Promise.all(loops);
            return codes;
        },
    };
}

test('a sign-in flood holds no database connection while bcrypt runs: other requests keep the pool', async () => {
    // One pooled connection, a short wait for it, and bcrypt's pool as on
    // two cores (one thread, a queue of four): while a sign-in held the
    // connection through its bcrypt, the victim's reads waited and got
    // 503 database_unavailable (found by the limits probe).
    const victim = newUser('pool-victim');
    assert.equal((await register(victim)).status, 201);
    const vjar = new Jar();
    assert.equal((await signIn(vjar, victim.email, victim.password)).status, 302);
    await withBackendEnv('platform', ['NANO_DB_POOL=1', 'NANO_DB_POOL_WAIT_MS=300',
        'NANO_BCRYPT_THREADS=1', 'NANO_BCRYPT_QUEUE=4'], async () => {
        const flood = await signinFlood(6);
        await sleep(500);
        const reads = [];
        for (let i = 0; i < 8; i++) {
            const res = await get('/api/credits?limit=1', { headers: vjar.headers() });
            reads.push(res.status === 200 ? 200 : `${res.status} ${res.text.slice(0, 80)}`);
        }
        const codes = await flood.stop();
        assert.deepEqual(reads, Array(8).fill(200), `the victim's reads during the flood (the flood got ${JSON.stringify(codes)})`);
        assert.ok((codes[401] || 0) > 0, `the flood's sign-ins ran bcrypt: ${JSON.stringify(codes)}`);
        assert.equal(codes[503], undefined, `no sign-in of the flood found the pool empty: ${JSON.stringify(codes)}`);
        // the paths that take the connection again after their bcrypt
        const late = newUser('pool-late');
        const reg = await register(late);
        const ljar = new Jar();
        const sin = await signIn(ljar, late.email, late.password);
        assert.equal(reg.status, 201, reg.text);
        assert.equal(sin.status, 302, sin.text);
        assert.ok(ljar.get('next-auth.session-token'), 'the sign-in made a session');
        // a password change and a deletion take it again after theirs too
        const fresh = `${late.password}-new`;
        const ch = await account('POST', '/api/account/password', ljar,
            { currentPassword: late.password, newPassword: fresh });
        assert.equal(ch.status, 200, ch.text);
        ljar.apply(ch);
        const wrong = await account('DELETE', '/api/account', ljar, { password: late.password });
        assert.equal(wrong.status, 403, wrong.text);
        const gone = await account('DELETE', '/api/account', ljar, { password: fresh });
        assert.equal(gone.status, 200, gone.text);
        const again = new Jar();
        assert.equal((await signIn(again, late.email, fresh)).status, 302);
        assert.equal(again.get('next-auth.session-token'), undefined, 'the deleted account signs in no more');
    });
});

test('a sign-in flood holds at most half the platform\'s workers by default: the queue fills and refuses, other requests do not wait', async () => {
    // Three bcrypt threads, as four cores get by default, and the queue
    // left to its default: it was 4 x 3 = 12, so threads and queue (15)
    // outnumbered the platform's 12 workers, a flood of 14 held every
    // worker without ever filling the queue (no 429), and each other
    // request waited 1 to 2 s for a worker (found by the limits probe).
    const victim = newUser('workers-victim');
    assert.equal((await register(victim)).status, 201);
    const vjar = new Jar();
    assert.equal((await signIn(vjar, victim.email, victim.password)).status, 302);
    await withBackendEnv('platform', ['NANO_BCRYPT_THREADS=3'], async () => {
        const flood = await signinFlood(14);
        await sleep(800);
        const times = [];
        const reads = [];
        for (let i = 0; i < 8; i++) {
            const t0 = Date.now();
            const res = await get('/api/credits?limit=1', { headers: vjar.headers() });
            times.push(Date.now() - t0);
            reads.push(res.status);
        }
        const codes = await flood.stop();
        const median = [...times].sort((a, b) => a - b)[times.length >> 1];
        console.log(`platform reads during a flood of 14 sign-ins: ${times.join(', ')} ms; the flood: ${JSON.stringify(codes)}`);
        assert.deepEqual(reads, Array(8).fill(200));
        assert.ok((codes[429] || 0) > 0, `the bcrypt queue filled and answered 429 while workers were left: ${JSON.stringify(codes)}`);
        assert.ok((codes[401] || 0) > 0, `the flood's sign-ins ran bcrypt: ${JSON.stringify(codes)}`);
        assert.ok(median < 500, `other requests kept workers: median ${median} ms (${times.join(', ')})`);
    });
});

test('a module with NANO_DB_POOL=1 stops at start, naming it: its job runner keeps that connection', async () => {
    // The runner takes one of the pool's connections when it starts and
    // keeps it (its LISTEN); with a pool of one, every request waited
    // NANO_DB_POOL_WAIT_MS for it and answered 503 (found by the limits
    // probe).  A pool of two serves.
    for (const app of ['qwen', 'nano-banana']) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-pool-'));
        try {
            const sock = path.join(dir, 'one.sock');
            const r = spawnSync(path.join(ROOT, `build/bin/nano-${app}`), ['--listen', `unix:${sock}`], {
                encoding: 'utf8', timeout: 15000, killSignal: 'SIGKILL',
                env: { ...backendEnv(app), NANO_MEDIA_DIR: dir, NANO_DB_POOL: '1' },
            });
            assert.equal(r.signal, null, `${app} NANO_DB_POOL=1: it did not stop by itself: ${(r.stderr || '').slice(-300)}`);
            assert.notEqual(r.status, 0, `${app} NANO_DB_POOL=1 is refused`);
            assert.match(r.stderr, /NANO_DB_POOL must be a number from 2 to 64/, `${app}: the log names it`);
            assert.ok(!fs.existsSync(sock), 'and no socket is left');
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
    await withBackendEnv('qwen', ['NANO_DB_POOL=2'], async () => {
        const u = await person('pool-two');
        const res = await generate(u.jar, 'qwen', { prompt: 'a pool of two' });
        assert.equal(res.status, 200, res.text);
        const h = await history(u.jar, 'qwen', '?limit=1');
        assert.equal(h.status, 200, h.text);
        assert.equal(h.json().items.length, 1);
    });
});

test('a burst of one user\'s text answers gives each debit\'s connection back while the provider thinks: other users\' reads keep the pool', async () => {
    // Ten answers at once of one user, the provider silent for 4 s: the
    // debits wait for each other's lock on the account, and a debit's
    // answer then came with its commit's in one read, which no poll of
    // the socket sees again; each answer held its connection until its
    // first delta, and the module's other requests waited for one and
    // answered 503 (found by the limits probe).  Three connections (the
    // runner keeps one) and a 1 s wait make it quick.
    const u = await person('burst');
    const other = await person('burst-other');
    setBalance(u.id, 1000);
    await withBackendEnv('qwen', ['NANO_DB_POOL=3', 'NANO_DB_POOL_WAIT_MS=1000'], async () => {
        for (const streamed of [true, false]) {
            const mark = crypto.randomBytes(3).toString('hex');
            const burst = Array.from({ length: 10 }, (_, i) => {
                const body = { prompt: `burst ${mark} ${i} [fake:slow=4000]`, stream: streamed };
                return streamed ? stream(u.jar, 'qwen', body) : generate(u.jar, 'qwen', body);
            });
            await sleep(1500);
            const reads = [];
            for (let i = 0; i < 3; i++) {
                const h = await history(other.jar, 'qwen', '?limit=1');
                reads.push(h.status === 200 ? 200 : `${h.status} ${h.text.slice(0, 80)}`);
                await sleep(300);
            }
            const answers = await Promise.all(burst);
            const codes = answers.map((a) => a.status);
            assert.deepEqual(reads, [200, 200, 200], `${streamed ? 'streamed' : 'whole'}: another user's reads during the burst`);
            assert.deepEqual(codes, Array(10).fill(200), `${streamed ? 'streamed' : 'whole'}: every answer of the burst was admitted`);
            for (const a of answers) {
                if (streamed) assert.equal(a.events.at(-1)?.event, 'done', a.text.slice(-200));
                else assert.ok(a.json().text.length > 0, a.text);
            }
        }
    });
});

// The stack's PostgreSQL processes: the postmaster (named by its socket's
// lock file) and its children.
function postgresPids() {
    const sock = process.env.NANO_TEST_PG_SOCK;
    const lock = fs.readdirSync(sock).find((f) => /^\.s\.PGSQL\.\d+\.lock$/.test(f));
    assert.ok(lock, `the server's socket lock in ${sock}`);
    const main = Number(fs.readFileSync(path.join(sock, lock), 'utf8').split('\n')[0]);
    return [main, ...execFileSync('pgrep', ['-P', String(main)], { encoding: 'utf8' })
        .split('\n').filter(Boolean).map(Number)];
}

test('a keyed edit whose admission answered 503 but committed keeps its input image: the retry gets the job, and it runs', async () => {
    // The database stopped (SIGSTOP) under the admission: 503, and the
    // statement commits once the server runs on.  A keyed one is left to
    // its key, and the client's retry is given that generation; its input
    // image was removed with the 503, so the job failed as "the image to
    // edit is gone" (found by the limits probe).
    const m = 'nano-banana';
    const u = await person('keyed-frozen');
    await withBackendEnv(m, ['NANO_DB_TIMEOUT_MS=600'], async () => {
        const warm = await generate(u.jar, m, { prompt: `warm ${crypto.randomBytes(3).toString('hex')}` });
        assert.equal(warm.status, 202, warm.text);
        await waitFor(u.jar, m, warm.json().id);
        const prompt = `keyed edit ${crypto.randomBytes(3).toString('hex')}`;
        const key = `key-${crypto.randomBytes(6).toString('hex')}`;
        const mp = multipart({ prompt }, [{ name: 'image', filename: 'a.png', type: 'image/png', data: png(64, 64) }]);
        const send = () => request('POST', `/${m}/api/generate`, {
            headers: u.jar.headers({ 'Content-Type': mp.type, Origin: ORIGIN, 'Idempotency-Key': key }),
            body: mp.body, timeout: 60000,
        });
        const pids = postgresPids();
        for (const pid of pids) process.kill(pid, 'SIGSTOP');
        let first;
        try {
            first = await send();
        } finally {
            for (const pid of pids) process.kill(pid, 'SIGCONT');
        }
        assert.equal(first.status, 503, first.text);
        const committed = await waitSql(`SELECT "id" FROM "Generation" WHERE "prompt" = ${lit(prompt)}`,
            { ms: 5000 }).catch(() => '');
        let again;
        for (let i = 0; i < 40; i++) {
            again = await send();
            if (again.status !== 503) break;
            await sleep(250);
        }
        assert.equal(again.status, 202, again.text);
        if (committed === '') {
            console.log('the admission did not commit after its 503: the retry made the job');
        } else {
            assert.equal(again.json().id, committed, 'the retry is given the generation that committed');
            assert.equal(again.headers['idempotent-replayed'], 'true');
        }
        const g = await waitFor(u.jar, m, again.json().id);
        assert.equal(g.status, 'succeeded', JSON.stringify(g.error));
        const input = row(again.json().id).params.inputImage.file;
        assert.ok(fs.existsSync(path.join(MEDIA_DIR, input)), `its input image is there: ${input}`);
    });
});

test('whole answers that continue a conversation hold no database connection while they wait for a stream slot', async () => {
    // One stream slot, taken by a slow answer; four whole answers that
    // continue a conversation wait 2 s for it, then 429.  They held the
    // connection they read the conversation with meanwhile, so another
    // user's read found the pool empty: 503 (found by the limits probe).
    const u = await person('conv-wait');
    const other = await person('conv-wait-other');
    setBalance(u.id, 1000);
    const first = await generate(u.jar, 'qwen', { prompt: 'start a conversation' });
    assert.equal(first.status, 200, first.text);
    const conversationId = first.json().conversationId;
    await withBackendEnv('qwen', ['NANO_MAX_STREAMS=1', 'NANO_DB_POOL=3', 'NANO_DB_POOL_WAIT_MS=1000'], async () => {
        const hog = stream(u.jar, 'qwen', { prompt: 'hold the slot [fake:slow=4000]', stream: true });
        await sleep(500);
        const waiting = Array.from({ length: 4 }, () => generate(u.jar, 'qwen', { prompt: 'go on', conversationId }));
        await sleep(400);
        const h = await history(other.jar, 'qwen', '?limit=1');
        const answers = await Promise.all(waiting);
        assert.equal(h.status, 200, `another user's read while they waited: ${h.text.slice(0, 120)}`);
        assert.deepEqual(answers.map((a) => `${a.status} ${a.json().error}`), Array(4).fill('429 too_many_answers'));
        assert.equal((await hog).status, 200);
    });
});

test('avatar uploads hold no database connection while their pictures wait for a decode and are decoded', async () => {
    // Two decodes at a time, half a second each for a 23-megapixel
    // picture: the uploads waiting for theirs held the pooled connection
    // their session check took, and another user's read got 503 (found
    // by the limits probe).
    //
    // The proof is the shape of the refusals, not a race: with one
    // connection, the decode queue (two decoding, four waiting) can only
    // fill, and the seventh upload be refused 503 "busy", if the six in
    // it hold none; an upload that kept its connection through its decode
    // would pass the others through their session check one at a time,
    // and none would ever be busy.  The pool wait is long so that a slow
    // host's short waits (session checks and stores queued on the one
    // connection) refuse nothing: it once answered an upload 503 after
    // the 300 ms this test used to allow.
    const u = await person('avatar-flood');
    const other = await person('avatar-flood-other');
    const body = multipart({}, [{ name: 'image', filename: 'me.png', type: 'image/png', data: png(4800, 4800) }]);
    const upload = () => request('POST', '/api/account/avatar', {
        headers: u.jar.headers({ 'Content-Type': body.type, Origin: ORIGIN }), body: body.body, timeout: 60000,
    });
    await withBackendEnv('platform', ['NANO_DB_POOL=1', 'NANO_DB_POOL_WAIT_MS=10000'], async () => {
        // an answer as 200 or "<status> <error code>" (nginx's own pages
        // are no JSON)
        const shapeOf = (d) => (d.status === 200 ? 200
            : `${d.status} ${/"error":\s*"([^"]*)"/.exec(d.text)?.[1] ?? d.text.slice(0, 60)}`);
        let full;
        const queueFull = new Promise((resolve) => { full = resolve; });
        const uploads = Array.from({ length: 14 }, () => upload().then((d) => {
            if (shapeOf(d) === '503 busy') full();
            return d;
        }));
        // the other user's reads once the queue was found full (six
        // pictures waiting or decoding), or once every upload answered
        await Promise.race([queueFull, Promise.all(uploads)]);
        const reads = [];
        for (let i = 0; i < 6; i++) {
            const r = await get('/api/credits?limit=1', { headers: other.jar.headers() });
            reads.push(r.status === 200 ? 200 : `${r.status} ${r.text.slice(0, 80)}`);
        }
        const done = await Promise.all(uploads);
        const shape = done.map(shapeOf);
        console.log(`14 uploads on one connection: ${shape.join(', ')}`);
        assert.deepEqual(reads, Array(6).fill(200), 'another user\'s reads while the pictures were decoded');
        assert.ok(shape.every((s) => s === 200 || s === '503 busy'),
            `each upload stored or refused busy, none for want of a connection: ${shape.join(', ')}`);
        assert.ok(shape.includes('503 busy'), `the decode queue filled while the only connection was free: ${shape.join(', ')}`);
        assert.ok(shape.filter((s) => s === 200).length >= 6, `the two decoding and the four waiting are stored: ${shape.join(', ')}`);
        const me = await get('/api/credits?limit=1', { headers: u.jar.headers() });
        assert.equal(me.status, 200);
    });
});

test('a burst of avatar uploads holds at most six platform workers: the rest are refused at once, 503 busy', async () => {
    // Two decodes at a time and four waiting; each waiter held a request
    // worker, and 14 uploads at once held all 12 of the platform's, so
    // every other request waited seconds for one (found by the limits
    // probe).
    const u = await person('avatar-burst');
    const other = await person('avatar-burst-other');
    const body = multipart({}, [{ name: 'image', filename: 'me.png', type: 'image/png', data: png(4800, 4800) }]);
    const upload = () => request('POST', '/api/account/avatar', {
        headers: u.jar.headers({ 'Content-Type': body.type, Origin: ORIGIN }), body: body.body, timeout: 60000,
    });
    const uploads = Array.from({ length: 14 }, upload);
    await sleep(400);
    const times = [];
    for (let i = 0; i < 6; i++) {
        const t0 = Date.now();
        const r = await get('/api/credits?limit=1', { headers: other.jar.headers() });
        assert.equal(r.status, 200, r.text);
        times.push(Date.now() - t0);
    }
    const done = await Promise.all(uploads);
    const busy = done.filter((d) => d.status === 503);
    console.log(`reads during 14 uploads: ${times.join(', ')} ms; uploads: ${done.map((d) => d.status).join(' ')}`);
    assert.ok(done.every((d) => d.status === 200 || d.status === 503), done.map((d) => d.status).join(' '));
    assert.ok(busy.length >= 1, 'the uploads past the waiting room are refused');
    for (const b of busy) {
        assert.equal(b.json().error, 'busy');
        assert.equal(b.headers['retry-after'], '2');
    }
    assert.ok(done.length - busy.length >= 6, 'the two decoding and the four waiting are served');
    const median = [...times].sort((a, b) => a - b)[times.length >> 1];
    assert.ok(median < 500, `other requests kept workers: median ${median} ms (${times.join(', ')})`);
});

test('a whole answer whose reader left while it waited for a pool connection is never admitted nor charged', async () => {
    // One request connection (the runner keeps the other), held by an
    // admission stuck on a row lock; a second user's whole answer waits
    // for the pool, and its reader leaves.  The check for a reader gone
    // ran before the wait for the pool, so once the connection came the
    // answer was admitted, asked and charged with nobody to read it
    // (found by the limits probe).
    const holder = await person('pool-holder');
    const leaver = await person('pool-leaver');
    await withBackendEnv('qwen', ['NANO_DB_POOL=2', 'NANO_DB_POOL_WAIT_MS=8000'], async () => {
        const before = balanceOf(leaver.id);
        const release = await lockBalance(holder.id);
        let held;
        try {
            held = generate(holder.jar, 'qwen', { prompt: 'held by the row lock' });
            await sleep(500);
            const prompt = `left while waiting ${crypto.randomBytes(3).toString('hex')}`;
            const left = stream(leaver.jar, 'qwen', { prompt }, { timeout: 1000 }).catch((e) => e);
            assert.match(String((await left).message), /timeout/, 'the reader gave up');
            await sleep(500);
            await release();
            assert.equal((await held).status, 200);
            await sleep(1500);
            assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "prompt" = ${lit(prompt)}`), '0',
                'the answer of a reader who left was not admitted');
            assert.equal(balanceOf(leaver.id), before, 'nor charged');
        } finally {
            await release().catch(() => {});
        }
    });
});
