// Stopping `make run` (scripts/run.sh) as an operator does, with requests
// in flight: a ^C stops nginx taking new requests at once, lets the
// requests it is serving end (a text stream within the grace), and only
// then stops the backends.  The run is a checkout of links (this build's
// nginx module and backends) on a port of its own, on the test stack's
// database (already migrated: a stand-in nano-migrate prints an empty
// plan) and its secret, so a user of the test stack is signed in there
// too.  No provider key: the text modules answer offline, at a human
// pace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { freePort, sleep, alive, STATE, SECRET, REGISTRY } from './lib.mjs';
import { person, stream, ROOT } from './generations.mjs';
import { runCheckout, stackPids } from './checkout.mjs';

// The test stack's DATABASE_URL (its stack.env, as stackctl.sh reads it).
function stackDbUrl() {
    const r = spawnSync('bash', ['-c', '. "$1" && printf %s "$STACK_DB_URL"', 'env', path.join(STATE, 'stack.env')],
        { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout, 'the test stack has a DATABASE_URL');
    return r.stdout;
}

// Starts make run in a fresh checkout: {root, state, port, origin, run,
// said(), exited, pids, end()}; end() kills whatever is left.
async function startRun() {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-run-stop-'));
    fs.chmodSync(root, 0o755);      // nginx's workers reach into it
    runCheckout(root);
    const state = path.join(root, '.state/run');
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const run = spawn('bash', [path.join(root, 'scripts/run.sh')], {
        detached: true, stdio: ['ignore', 'ignore', 'pipe'],
        env: {
            PATH: process.env.PATH, HOME: process.env.HOME || '/root', PORT: String(port),
            NEXTAUTH_URL: origin, DATABASE_URL: stackDbUrl(), NEXTAUTH_SECRET: SECRET,
        },
    });
    let said = '';
    run.stderr.on('data', (d) => { said += d; });
    const exited = new Promise((resolve) => run.on('exit', (code, sig) => resolve({ code, sig })));
    const up = await Promise.race([
        (async () => { while (!said.includes('Nano Banana is up')) await sleep(100); return true; })(),
        exited.then(() => false), sleep(60000).then(() => false),
    ]);
    const r = { root, state, port, origin, run, said: () => said, exited, pids: {} };
    r.end = () => {
        for (const pid of [run.pid, ...Object.values(r.pids)]) {
            try {
                process.kill(-pid, 'SIGKILL');      // each is its own session's leader
            } catch { /* gone */ }
        }
        fs.rmSync(root, { recursive: true, force: true });
    };
    if (!up) {
        r.end();
        assert.fail(`make run came up: ${said.slice(-1500)}`);
    }
    r.pids = stackPids(state);
    return r;
}

// Whether a TCP connection to 127.0.0.1:port is taken.
function connects(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('connect', () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
    });
}

// The stop sent nginx SIGTERM (its fast stop) before anything else: every
// stream in flight was cut at once, with the backends' 10 s grace for
// requests in flight never used.  nginx now stops gracefully first
// (SIGQUIT: its port closed, what it serves let finish), then the
// backends.
test('make run: a ^C lets a text stream in flight finish whole while nginx takes no new connection, then stops everything', { timeout: 120000 }, async () => {
    const u = await person('run-stop');
    const r = await startRun();
    try {
        const m = REGISTRY.find((x) => x.kind === 'text').name;
        let refusedDuring = null;
        let seen = 0;
        let firstDelta;
        const started = new Promise((resolve) => { firstDelta = resolve; });
        const s = stream(u.jar, m, { prompt: `Tell me about the sea ${Date.now()}`, stream: true }, {
            port: r.port, headers: { Origin: r.origin },
            onEvent: (e) => {
                if (e.event === 'delta' && ++seen === 1) firstDelta(true);
            },
        });
        s.catch(() => firstDelta(false));
        assert.ok(await Promise.race([started, sleep(20000).then(() => false)]), 'the stream started');
        process.kill(-r.run.pid, 'SIGINT');
        const stopped = Date.now();
        const seenAtStop = seen;
        for (const end = Date.now() + 3000; Date.now() < end && refusedDuring === null; await sleep(100)) {
            if (!await connects(r.port)) refusedDuring = Date.now() - stopped;
        }
        const got = await s;
        assert.equal(got.status, 200, got.text.slice(0, 300));
        const deltas = got.events.filter((e) => e.event === 'delta');
        assert.ok(deltas.length >= 5, `several deltas (${deltas.length}): ${got.text.slice(-300)}`);
        assert.equal(got.events.at(-1)?.event, 'done', `the stream ended with done: ${got.text.slice(-300)}`);
        assert.ok(deltas.length - seenAtStop >= 3, `the stream went on after the ^C (${seenAtStop} of ${deltas.length} deltas before it)`);
        assert.notEqual(refusedDuring, null, 'nginx took no new connection during the stop');

        const streamEnded = Date.now() - stopped;
        const end = await Promise.race([r.exited, sleep(60000).then(() => null)]);
        console.log(`stream ended ${streamEnded} ms after the ^C, make run ${Date.now() - stopped} ms after it`);
        assert.deepEqual(end, { code: 0, sig: null }, `it stopped by itself: ${r.said().slice(-800)}`);
        const left = Object.entries(r.pids).filter(([, pid]) => alive(pid));
        assert.deepEqual(left, [], 'nothing it started is left running');
        assert.deepEqual(fs.readdirSync(path.join(r.state, 'pids')), [], 'no pid file is left');
        assert.deepEqual(fs.readdirSync(path.join(r.state, 'sock')), [], 'no socket is left');
    } finally {
        r.end();
    }
});
