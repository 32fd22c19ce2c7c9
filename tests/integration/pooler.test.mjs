// A pooler between the backends and PostgreSQL: Debian's PgBouncer in
// session mode, the mode docs/MODULES.md (DB pool) asks for, in front of
// the test stack's database.  A second host (scripts/peer.sh --db) reaches
// the database only through it.  What must hold there: sign-in, text
// answers (prepared statements kept on their connections), jobs run once,
// revocation within 2 s, and all of it again after the pooler restarts
// and every connection through it was cut.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
    BASE, STATE, get, request, sleep,
} from './lib.mjs';
import { REVOKE_WITHIN, PG_SOCK, PSQL, revokeAcross } from './accounts.mjs';
import {
    ROOT, JSON_H, person, waitFor, fakeStats, fakeCount, tag, ledgerRows,
} from './generations.mjs';

const PGBOUNCER = '/usr/sbin/pgbouncer';
const PORT = Number(process.env.NANO_TEST_POOLED_PORT || Number(new URL(BASE).port) + 60);
const PEER = path.join(ROOT, 'scripts/peer.sh');
const NAME = 'pooled';
// The pooled host's connections per process: fewer than the texts sent at
// once below, so requests also wait for a pooled connection.
const POOLED_DB_POOL = 3;
// PgBouncer's config, socket and log: beside the cluster's socket, where
// the postgres user surely reaches (a checkout under /root is not
// traversable), and gone with a throwaway cluster
const DIR = PG_SOCK ? path.join(path.dirname(PG_SOCK), 'pooler') : `${STATE}-pooler`;
const BOUNCER_PORT = 6432;              // its socket: DIR/.s.PGSQL.6432
const URL_VIA_POOLER = `postgresql://nano@localhost/nano?host=${DIR}&port=${BOUNCER_PORT}`;

// PgBouncer will not run as root; the test stack's PostgreSQL runs as
// postgres when we are root, and so does the pooler.
const asPg = (cmd, args) => (process.getuid() === 0
    ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', cmd, ...args]]
    : [cmd, args]);

function bouncerStart() {
    const [cmd, args] = asPg(PGBOUNCER, ['-d', `${DIR}/pgbouncer.ini`]);
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `pgbouncer did not start: ${r.stderr}`);
}

// Its pid, when its pid file names a running pgbouncer (a file left by a
// crashed run may name a pid reused since).
function bouncerPid() {
    try {
        const pid = Number(fs.readFileSync(`${DIR}/pgbouncer.pid`, 'utf8'));
        return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'pgbouncer' ? pid : 0;
    } catch {
        return 0;
    }
}

async function bouncerStop() {
    const pid = bouncerPid();
    if (!pid) return;
    try {
        process.kill(pid, 'SIGTERM');   // immediate: every connection cut
    } catch {
        return;
    }
    for (let i = 0; i < 100; i++) {
        try {
            process.kill(pid, 0);
        } catch {
            return;
        }
        await sleep(50);
    }
    throw new Error('pgbouncer did not stop');
}

// The pooler's own view (its admin console): how many clients of ours
// it holds for the database.
function bouncerClients() {
    const r = spawnSync(PSQL, ['-X', '-tA', '-F', '|', '-h', DIR, '-p', String(BOUNCER_PORT),
        '-U', 'nano', '-d', 'pgbouncer', '-c', 'SHOW CLIENTS'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 0, `SHOW CLIENTS: ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l.split('|')[2] === 'nano').length;
}

// The pooled host's backend logs from here on: what they say about the
// database (a statement or connection the pooler did not keep).
const LOGS = () => fs.readdirSync(`${STATE}-${NAME}/logs`).filter((f) => f.endsWith('.log') && !f.startsWith('nginx'))
    .map((f) => `${STATE}-${NAME}/logs/${f}`);
const logMark = () => Object.fromEntries(LOGS().map((f) => [f, fs.statSync(f).size]));
function databaseComplaints(mark) {
    const out = [];
    for (const f of LOGS()) {
        const fd = fs.openSync(f, 'r');
        const from = mark[f] || 0;
        const buf = Buffer.alloc(fs.fstatSync(fd).size - from);
        fs.readSync(fd, buf, 0, buf.length, from);
        fs.closeSync(fd);
        for (const line of buf.toString('utf8').split('\n')) {
            if (/database|prepared statement|cannot record|cannot claim/i.test(line)) out.push(`${path.basename(f)}: ${line}`);
        }
    }
    return out;
}

const at = (p, jar, opts = {}) => get(p, { ...opts, port: PORT, headers: jar.headers(opts.headers || {}) });

async function textVia(jar, prompt) {
    return request('POST', '/qwen/api/generate', {
        port: PORT, headers: jar.headers(JSON_H), body: JSON.stringify({ prompt }),
    });
}

// Signs a new person out on the first host; the delay until the pooled
// one refuses the copied cookie, in ms.
const revokeOnFirst = async (who) => revokeAcross(assert, await person(who), undefined, PORT);

// The pooled host's text answers and jobs, checked in the ledger.
async function generatesThrough(label) {
    const u = await person(`pooler-${label}`);
    const t = tag();
    const chats = fakeCount(await fakeStats(), 'chat.dashscope');
    // two rounds of six at once on the module's POOLED_DB_POOL
    // connections: some wait for one, each has its statements prepared
    for (let round = 0; round < 2; round++) {
        const answers = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => textVia(u.jar, `pooled ${label} ${t} #${round}.${i}`)));
        for (const r of answers) {
            assert.equal(r.status, 200, `text: ${r.status} ${r.text.slice(0, 300)}`);
            assert.ok(r.json().text.length > 0, 'an answer');
        }
    }
    assert.equal(fakeCount(await fakeStats(), 'chat.dashscope') - chats, 12, 'one provider call per answer');
    const before = await fakeStats();
    const ids = [];
    for (let i = 0; i < 4; i++) {
        const r = await request('POST', '/nano-banana/api/generate', {
            port: PORT, headers: u.jar.headers(JSON_H),
            body: JSON.stringify({ prompt: `pooled job ${label} ${t} #${i}` }),
        });
        assert.equal(r.status, 202, r.text);
        ids.push(r.json().id);
    }
    for (const id of ids) {
        const g = await waitFor(u.jar, 'nano-banana', id, { ms: 30000 });
        assert.equal(g.status, 'succeeded', JSON.stringify(g));
    }
    const afterStats = await fakeStats();
    assert.equal(fakeCount(afterStats, 'gemini.generateContent') - fakeCount(before, 'gemini.generateContent'),
        ids.length, 'one provider call per job');
    const ledger = ledgerRows(u.id);
    assert.equal(ledger.filter((e) => e.reason === 'debit').length, 16, 'one debit per answer and per job');
    assert.equal(ledger.filter((e) => e.reason === 'refund').length, 0, 'nothing refunded');
}

before(async () => {
    assert.ok(fs.existsSync(PGBOUNCER), `${PGBOUNCER} is missing (Debian's pgbouncer; scripts/deps.sh installs it)`);
    assert.ok(PG_SOCK, 'NANO_TEST_PG_SOCK is not set (run through make test)');
    await bouncerStop();
    fs.rmSync(DIR, { recursive: true, force: true });
    fs.mkdirSync(DIR, { mode: 0o700 });
    fs.writeFileSync(`${DIR}/userlist.txt`, '"nano" ""\n');
    fs.writeFileSync(`${DIR}/pgbouncer.ini`, [
        '[databases]',
        `nano = host=${PG_SOCK} dbname=nano`,
        '[pgbouncer]',
        'listen_addr =',
        `listen_port = ${BOUNCER_PORT}`,
        `unix_socket_dir = ${DIR}`,
        'auth_type = trust',
        `auth_file = ${DIR}/userlist.txt`,
        'admin_users = nano',
        'pool_mode = session',
        // session mode holds a server connection per client: room for
        // the pooled host's whole budget (7 processes x POOLED_DB_POOL,
        // and the publisher's LISTEN), which with the test stack's own
        // 58 (docs/MODULES.md) stays under max_connections 100
        'max_client_conn = 100',
        `default_pool_size = ${7 * POOLED_DB_POOL + 1}`,
        'ignore_startup_parameters = extra_float_digits',
        `logfile = ${DIR}/pgbouncer.log`,
        `pidfile = ${DIR}/pgbouncer.pid`,
        '',
    ].join('\n'));
    if (process.getuid() === 0) execFileSync('chown', ['-R', 'postgres:postgres', DIR]);
    bouncerStart();
    execFileSync(PEER, ['--name', NAME, '--db', URL_VIA_POOLER, 'start', String(PORT)], {
        stdio: 'inherit', env: { ...process.env, NANO_DB_POOL: String(POOLED_DB_POOL) },
    });
});

after(async () => {
    try {
        execFileSync(PEER, ['--name', NAME, 'stop'], { stdio: 'inherit' });
    } finally {
        await bouncerStop();
    }
});

test('the pooled host reaches PostgreSQL only through PgBouncer (session mode)', async () => {
    const env = fs.readFileSync(`${STATE}-${NAME}/stack.env`, 'utf8');
    assert.match(env, new RegExp(`STACK_DB_URL=.*${DIR.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
        'its DATABASE_URL is the pooler');
    const res = await get('/api/auth/providers', { port: PORT });
    assert.equal(res.status, 200, res.text);
    const u = await person('pooler-first');
    const me = await at('/openai/api/me', u.jar);
    assert.equal(me.status, 200, me.text);
    assert.ok(bouncerClients() > 0, 'PgBouncer holds client connections of the pooled host');
});

test('through the pooler: text answers, jobs run once, one debit each; no database complaint in any log', async () => {
    const mark = logMark();
    await generatesThrough('up');
    // in transaction mode statements and LISTENs go missing here
    assert.deepEqual(databaseComplaints(mark), [], 'the pooled host\'s logs');
});

test('through the pooler: a sign-out on the first host is refused on the pooled one within 2 s', async () => {
    const ms = await revokeOnFirst('pooler-revoke');
    console.log(`revocation to the pooled host: ${ms} ms`);
    assert.ok(ms <= REVOKE_WITHIN, `took ${ms} ms`);
});

test('the pooler restarts, cutting every connection: the pooled host recovers by itself', async () => {
    await bouncerStop();
    // meanwhile the database is out of reach: a clear 503, nothing debited
    const u = await person('pooler-down');
    const down = await textVia(u.jar, `pooler down ${tag()}`);
    assert.equal(down.status, 503, `${down.status} ${down.text.slice(0, 300)}`);
    assert.equal(down.json().error, 'database_unavailable');
    bouncerStart();
    const t0 = Date.now();
    for (;;) {
        const r = await textVia(u.jar, `pooler back ${tag()}`);
        if (r.status === 200) break;
        assert.equal(r.status, 503, `${r.status} ${r.text.slice(0, 300)}`);
        assert.ok(Date.now() - t0 < 15000, 'the pooled host answers again within 15 s');
        await sleep(200);
    }
    console.log(`pooled host answering again ${Date.now() - t0} ms after the pooler came back`);
    assert.equal(ledgerRows(u.id).filter((e) => e.reason === 'debit').length, 1,
        'only the answer that was given is charged');
    await generatesThrough('again');
    const ms = await revokeOnFirst('pooler-revoke-again');
    console.log(`revocation to the pooled host after the restart: ${ms} ms`);
    assert.ok(ms <= REVOKE_WITHIN, `took ${ms} ms`);
});
