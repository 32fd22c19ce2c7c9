// nano-admin, the operator's command line, against the test stack's
// database: what each command prints and changes, and every refusal with
// its exit status (0 done, 1 database error, 2 bad usage, 3 no such user).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { get } from './lib.mjs';
import { PG_SOCK, psql, lit, assertRefusedWithin, copyJar } from './accounts.mjs';
import { person, credits, balanceOf, ledgerSum, setBalance, ROOT } from './generations.mjs';

const ADMIN = path.join(ROOT, 'build/bin/nano-admin');
const DB_URL = `postgresql://nano@localhost/nano?host=${encodeURIComponent(PG_SOCK)}`;

function admin(args, env = { DATABASE_URL: DB_URL }) {
    const clean = { ...process.env };
    delete clean.DATABASE_URL;
    const r = spawnSync(ADMIN, args, { encoding: 'utf8', env: { ...clean, ...env }, timeout: 30000 });
    return { status: r.status, out: r.stdout, err: r.stderr };
}

test('help and usage: exit 0 for --help, 2 for nothing, an unknown command, a missing or bad DATABASE_URL', () => {
    let r = admin(['--help']);
    assert.equal(r.status, 0);
    for (const cmd of ['users list', 'users show', 'credits grant', 'sessions revoke', 'usage', 'modules']) {
        assert.ok(r.out.includes(cmd), `--help names ${cmd}`);
    }
    // and what it reads: it named DATABASE_URL alone (found by the config probe)
    for (const v of ['DATABASE_URL', 'NANO_SIGNUP_CREDITS', 'NANO_MODULES_FILE']) {
        assert.ok(r.out.includes(v), `--help names ${v}`);
    }
    r = admin(['users', 'list'], { DATABASE_URL: 'postgresql://nano:s3cret-pw@[::1/nano' });
    assert.equal(r.status, 2);
    assert.ok(!r.err.includes('s3cret-pw'), `the password is never echoed: ${r.err}`);
    r = admin([]);
    assert.equal(r.status, 2);
    assert.match(r.err, /usage: nano-admin/);
    r = admin(['users', 'fly']);
    assert.equal(r.status, 2);
    assert.match(r.err, /unknown command users fly/);
    r = admin(['users', 'list'], {});
    assert.equal(r.status, 2);
    assert.match(r.err, /DATABASE_URL is not set/);
    r = admin(['users', 'list'], { DATABASE_URL: 'mysql://root:s3cret-pw@db/x' });
    assert.equal(r.status, 2);
    assert.ok(!r.err.includes('s3cret-pw'), `the password is never echoed: ${r.err}`);
    r = admin(['users', 'list'], { DATABASE_URL: 'postgresql://nano@localhost/nano?host=/nonexistent' });
    assert.equal(r.status, 1);
    assert.match(r.err, /cannot be reached/);
});

// The registry as the backends read it, without a database: an operator
// checks an edited modules.conf with it, and make new-module its line.
test('modules: lists the registry without a database; a registry a backend would refuse is exit 1 with the reason', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nano-admin-')), 'modules.conf');
    const conf = fs.readFileSync(path.join(ROOT, 'modules.conf'), 'utf8');
    let r = admin(['modules'], { NANO_MODULES_FILE: path.join(ROOT, 'modules.conf') });
    assert.equal(r.status, 0, r.err);
    const rows = r.out.trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(rows.map((x) => x[0]), conf.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).map((l) => l.split(/\s+/)[0]));
    assert.deepEqual(rows.find((x) => x[0] === 'wan-2.5'), ['wan-2.5', 'video', 'wan', '/wan-2.5', 'Wan 2.5']);
    // a title's control characters never reach the terminal
    fs.writeFileSync(file, 'zz text offline A\x1b[31mB\n');
    r = admin(['modules'], { NANO_MODULES_FILE: file });
    assert.equal(r.status, 0, r.err);
    assert.equal(r.out, 'zz\ttext\toffline\t/zz\tA?[31mB\n');
    // nor a C1 control (U+009B is CSI on its own), as users list has it;
    // other characters stay
    fs.writeFileSync(file, 'zz text offline A\u009b31mB\u0085C \u00e9\u00a0\u2603\n');
    r = admin(['modules'], { NANO_MODULES_FILE: file });
    assert.equal(r.status, 0, r.err);
    assert.equal(r.out, 'zz\ttext\toffline\t/zz\tA?31mB?C \u00e9\u00a0\u2603\n');
    for (const [text, why] of [
        ['wan-2-5 video offline W\nwan.2.5 video offline V\n', /:2: "wan\.2\.5" and "wan-2-5" would share one nginx upstream/],
        ['settings text offline S\n', /:1: "settings" is reserved/],
        ['zz audio offline Z\n', /:1: kind "audio" is not image, text or video/],
        ['zz text\n', /:1: expected "name kind provider title"/],
        // Latin-1: the title would break the dashboard's JSON
        [Buffer.from('zz text offline Caf\xe9\n', 'latin1'), /:1: the title is not UTF-8/],
    ]) {
        fs.writeFileSync(file, text);
        r = admin(['modules'], { NANO_MODULES_FILE: file });
        assert.equal(r.status, 1, `${JSON.stringify(text)} accepted: ${r.out}`);
        assert.match(r.err, why);
        assert.equal(r.out, '');
    }
    r = admin(['modules'], { NANO_MODULES_FILE: `${file}.none` });
    assert.equal(r.status, 1);
    assert.match(r.err, /cannot open the module registry .*No such file/);
    r = admin(['modules', 'extra'], { NANO_MODULES_FILE: file });
    assert.equal(r.status, 2);
    assert.match(r.err, /usage: nano-admin modules/);
    fs.rmSync(path.dirname(file), { recursive: true });
});

// A registry saved with CRLF line ends: a blank line's "\r" was a module
// for the scripts' awk (an upstream "nano_\r", a backend "nano-\r") and a
// line the backends refused.
test('modules: a CRLF registry is read alike by nano-admin, scripts/upstreams.sh and the Makefile', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-admin-crlf-'));
    const file = path.join(dir, 'modules.conf');
    fs.writeFileSync(file, '# name kind provider title\r\n\r\nqwen text dashscope Qwen\r\n'
        + '  \r\ngrok\ttext\txai\tGrok # ours\r\n');
    const r = admin(['modules'], { NANO_MODULES_FILE: file });
    assert.equal(r.status, 0, r.err);
    assert.equal(r.out, 'qwen\ttext\tdashscope\t/qwen\tQwen\ngrok\ttext\txai\t/grok\tGrok\n');
    const ups = spawnSync(path.join(ROOT, 'scripts/upstreams.sh'), ['unix', '/run/nano'],
        { encoding: 'utf8', env: { ...process.env, NANO_MODULES_FILE: file } });
    assert.equal(ups.status, 0, ups.stderr);
    assert.deepEqual(ups.stdout.split('\n').filter((l) => l.startsWith('upstream')), [
        'upstream nano_platform { server "unix:/run/nano/platform.sock"; keepalive 16; }',
        'upstream nano_qwen { server "unix:/run/nano/qwen.sock"; keepalive 16; }',
        'upstream nano_grok { server "unix:/run/nano/grok.sock"; keepalive 16; }',
    ]);
    const apps = spawnSync('make', ['-s', '--no-print-directory', '-C', dir, '-f', path.join(ROOT, 'Makefile'),
        'print-APPS'], { encoding: 'utf8', env: { ...process.env, MAKEFLAGS: '' } });
    assert.equal(apps.status, 0, apps.stderr);
    assert.equal(apps.stdout, 'platform qwen grok\n');
    fs.rmSync(dir, { recursive: true });
});

// An installed nginx's upstreams from a registry that cannot be read (a
// typo in NANO_MODULES_FILE): the platform's alone came out with exit 0,
// and nginx then met every module's snippet without its upstream.
test('modules: scripts/upstreams.sh fails on a registry it cannot read or a relative socket folder, writing no upstream', () => {
    const missing = path.join(os.tmpdir(), `nano-no-registry-${process.pid}.conf`);
    for (const args of [['unix', '/run/nano'], ['tcp']]) {
        const r = spawnSync(path.join(ROOT, 'scripts/upstreams.sh'), args,
            { encoding: 'utf8', env: { ...process.env, NANO_MODULES_FILE: missing } });
        assert.notEqual(r.status, 0, `${args[0]}: ${r.stdout}`);
        assert.match(r.stderr, /registry: cannot read .*nano-no-registry/);
        assert.doesNotMatch(r.stdout, /upstream/, args[0]);
    }
    // a relative folder: nginx would look for the sockets from its own
    // working directory, where no backend listens (they refuse one)
    for (const dir of ['run/nano', './sock', 'sock/']) {
        const r = spawnSync(path.join(ROOT, 'scripts/upstreams.sh'), ['unix', dir],
            { encoding: 'utf8', env: { ...process.env, NANO_MODULES_FILE: path.join(ROOT, 'modules.conf') } });
        assert.equal(r.status, 2, `${dir}: ${r.stdout}`);
        assert.match(r.stderr, /DIR must be absolute/);
        assert.equal(r.stdout, '', dir);
    }
});

test('users list: newest first with balance and sign-in methods; --limit; bad limits refused', async () => {
    const a = await person('adminlist');
    psql(`INSERT INTO "Account" ("id","userId","type","provider","providerAccountId")
          VALUES (${lit('acc-' + a.id)}, ${lit(a.id)}, 'oauth', 'github', ${lit('gh-' + a.id)})`);
    let r = admin(['users', 'list']);
    assert.equal(r.status, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.match(lines[0], /^id\s+email\s+name\s+created\s+balance\s+sign_in$/);
    const mine = lines.find((l) => l.includes(a.user.email));
    assert.ok(mine, 'the new user is listed');
    assert.match(mine, /\s100\s+password,github$/);
    // Times are UTC and say so (an operator on a host in St. John's read
    // them as local: found by the failures probe), whatever the
    // terminal's zone.
    r = admin(['users', 'list'], { DATABASE_URL: DB_URL, TZ: 'America/St_Johns' });
    const utc = psql(`SELECT to_char("createdAt", 'YYYY-MM-DD HH24:MI') FROM "User" WHERE "id" = ${lit(a.id)}`);
    assert.ok(r.out.split('\n').find((l) => l.includes(a.user.email)).includes(` ${utc}Z `),
        `created ${utc}Z in: ${r.out}`);
    r = admin(['users', 'list', '--limit', '1']);
    assert.equal(r.status, 0);
    assert.equal(r.out.trim().split('\n').length, 2, 'a header and one row');
    // the users left out are counted, on stderr (the newest 50 of many
    // read as all of them: found by the pagination probe)
    await person('adminlist-second');
    r = admin(['users', 'list', '--limit', '1']);
    assert.equal(r.out.trim().split('\n').length, 2);
    assert.match(r.err, /^nano-admin: [1-9]\d* more users not shown \(--limit N, at most 10000\)\n$/);
    assert.doesNotMatch(admin(['users', 'list', '--limit', '10000']).err, /not shown/);
    for (const bad of ['0', '10001', 'abc', '-1', '']) {
        r = admin(['users', 'list', '--limit', bad]);
        assert.equal(r.status, 2, `--limit ${JSON.stringify(bad)}`);
        assert.match(r.err, /--limit takes a number/);
    }
    assert.equal(admin(['users', 'list', 'extra']).status, 2);
});

test('users show: found whatever the case of the email; a name with escape codes cannot reach the terminal; unknown is 3', async () => {
    const a = await person('adminshow');
    psql(`UPDATE "User" SET "name" = E'Mallory \\x1b[31mred\\x07' WHERE "id" = ${lit(a.id)}`);
    let r = admin(['users', 'show', a.user.email.toUpperCase()]);
    assert.equal(r.status, 0, r.err);
    assert.ok(r.out.includes(a.id));
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(r.out), 'no control character is printed');
    assert.ok(r.out.includes('Mallory ?[31mred?'), r.out);
    assert.match(r.out, /sessions:\n.*\n.*\n/, 'the session of the sign-in is listed');
    assert.match(r.out, /latest credit changes:\n.*\n.*signup/);

    r = admin(['users', 'show', 'nobody-at-all@example.com']);
    assert.equal(r.status, 3);
    assert.match(r.err, /no user has the email nobody-at-all@example.com/);
    r = admin(['users', 'show', 'a\xffb@example.com']);
    assert.notEqual(r.status, 0);
    assert.equal(admin(['users', 'show']).status, 2);
});

// users show lists the 20 sessions last seen and the 10 latest ledger
// rows; beyond that it said nothing, and 35 sessions read as 20 (found
// by the pagination probe).
test('users show: a part cut short says how many rows it left out', async () => {
    const a = await person('adminmore');
    psql(`INSERT INTO "AuthSession" ("id", "userId", "lastSeenAt", "expires")
        SELECT ${lit(a.id)} || '-s' || g, ${lit(a.id)}, '2026-01-01'::timestamp + g * interval '1 minute',
        extract(epoch FROM now())::bigint + 3600 FROM generate_series(1, 34) g`);
    psql(`INSERT INTO "CreditLedger" ("userId", "delta", "reason") SELECT ${lit(a.id)}, 0, 'adjustment' FROM generate_series(1, 11) g`);
    let r = admin(['users', 'show', a.user.email]);
    assert.equal(r.status, 0, r.err);
    const part = (name) => r.out.split(`\n${name}:\n`)[1].split('\n\n')[0].split('\n').filter(Boolean);
    const sessions = part('sessions');
    assert.equal(sessions.length, 1 + 20 + 1, sessions.join('\n'));
    assert.equal(sessions.at(-1), '  (15 more not shown)');
    const ledger = part('latest credit changes');
    assert.equal(ledger.at(-1), '  (2 more not shown)', ledger.join('\n'));

    // nothing is said when all are shown
    const b = await person('adminmore-few');
    r = admin(['users', 'show', b.user.email]);
    assert.equal(r.status, 0, r.err);
    assert.doesNotMatch(r.out, /more not shown/);
});

test('credits grant: a "grant" ledger row with the reason, the balance and the ledger agree; refusals change nothing', async () => {
    const a = await person('admingrant');
    let r = admin(['credits', 'grant', a.user.email, '25', '--reason', 'goodwill for ticket #12']);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /granted 25 credits .* balance now 125/);
    assert.equal(balanceOf(a.id), 125);
    assert.equal(ledgerSum(a.id), 125);
    const page = await credits(a.jar);
    const first = page.json().ledger[0];
    assert.equal(first.reason, 'grant');
    assert.equal(first.delta, 25);
    assert.equal(first.note, 'goodwill for ticket #12', 'the user sees why');

    r = admin(['credits', 'grant', a.user.email, '-5', '--reason', 'correction']);
    assert.equal(r.status, 0, r.err);
    assert.equal(balanceOf(a.id), 120);

    for (const [args, why] of [
        [[a.user.email, '0', '--reason', 'x'], /not 0/],
        [[a.user.email, 'ten', '--reason', 'x'], /whole number/],
        [[a.user.email, '1.5', '--reason', 'x'], /whole number/],
        [[a.user.email, '+5', '--reason', 'x'], /whole number/],
        [[a.user.email, '1000000001', '--reason', 'x'], /whole number/],
        [[a.user.email, '5'], /usage/],
        [[a.user.email, '5', '--reason', ''], /--reason needs/],
        [[a.user.email, '5', '--reason', 'x'.repeat(501)], /--reason needs/],
        [[a.user.email, '5', '--because', 'x'], /usage/],
    ]) {
        r = admin(['credits', 'grant', ...args]);
        assert.equal(r.status, 2, `${args.join(' ').slice(0, 60)}: ${r.err}`);
        assert.match(r.err, why);
    }
    r = admin(['credits', 'grant', 'nobody-at-all@example.com', '5', '--reason', 'x']);
    assert.equal(r.status, 3);
    assert.equal(balanceOf(a.id), 120, 'no refusal changed the balance');
    assert.equal(ledgerSum(a.id), 120);
});

test('credits grant: a correction never takes a balance below zero (only a payment\'s refund may); refused, nothing written', async () => {
    const a = await person('admincorrect');
    const rows = () => psql(`SELECT count(*) FROM "CreditLedger" WHERE "userId" = ${lit(a.id)}`);
    const before = rows();
    let r = admin(['credits', 'grant', a.user.email, '-101', '--reason', 'typo']);
    assert.equal(r.status, 2, r.err);
    assert.match(r.err, /balance is 100: a correction may take at most 100/);
    assert.equal(balanceOf(a.id), 100);
    assert.equal(rows(), before, 'no ledger row');
    r = admin(['credits', 'grant', a.user.email, '-100', '--reason', 'all of it']);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /balance now 0$/m);

    // below zero after a refund: no correction takes more, a grant adds
    setBalance(a.id, -30);
    r = admin(['credits', 'grant', a.user.email, '-1', '--reason', 'more']);
    assert.equal(r.status, 2, r.err);
    assert.match(r.err, /balance is -30: a correction may take at most 0/);
    r = admin(['credits', 'grant', a.user.email, '10', '--reason', 'goodwill']);
    assert.equal(r.status, 0, r.err);
    assert.equal(balanceOf(a.id), -20);
    assert.equal(ledgerSum(a.id), -20);

    // a V1 user: the refusal opens no account either
    const id = `v1correct${Date.now()}`;
    psql(`INSERT INTO "User" ("id", "email", "name") VALUES (${lit(id)}, ${lit(`${id}@example.com`)}, 'V1 person')`);
    r = admin(['credits', 'grant', `${id}@example.com`, '-101', '--reason', 'typo']);
    assert.equal(r.status, 2, r.err);
    assert.equal(balanceOf(id), null, 'no account was opened');
});

test('credits grant to a V1 user without an account opens it (signup grant) first', () => {
    const id = `v1admin${Date.now()}`;
    const email = `${id}@example.com`;
    psql(`INSERT INTO "User" ("id", "email", "name") VALUES (${lit(id)}, ${lit(email)}, 'V1 person')`);
    const r = admin(['credits', 'grant', email, '7', '--reason', 'welcome back']);
    assert.equal(r.status, 0, r.err);
    assert.equal(balanceOf(id), 107);
    assert.equal(psql(`SELECT string_agg("reason", ',' ORDER BY "id") FROM "CreditLedger" WHERE "userId" = ${lit(id)}`),
        'signup,grant');
});

test('credits grant reads NANO_SIGNUP_CREDITS: a bad value is refused (exit 2, named, nothing written), a good one opens a V1 account', () => {
    const id = `v1signup${Date.now()}`;
    const email = `${id}@example.com`;
    psql(`INSERT INTO "User" ("id", "email", "name") VALUES (${lit(id)}, ${lit(email)}, 'V1 person')`);
    const args = ['credits', 'grant', email, '7', '--reason', 'welcome back'];
    for (const bad of ['-1', 'ten', '1000000001']) {
        const r = admin(args, { DATABASE_URL: DB_URL, NANO_SIGNUP_CREDITS: bad });
        assert.equal(r.status, 2, `NANO_SIGNUP_CREDITS=${bad}: ${r.err}`);
        assert.match(r.err, /NANO_SIGNUP_CREDITS must be a number from 0 to 1000000000/);
        assert.equal(balanceOf(id), null, 'no account was opened');
    }
    const r = admin(args, { DATABASE_URL: DB_URL, NANO_SIGNUP_CREDITS: '0' });
    assert.equal(r.status, 0, r.err);
    assert.equal(balanceOf(id), 7);
    assert.equal(psql(`SELECT string_agg("reason" || ' ' || "delta", ',' ORDER BY "id") FROM "CreditLedger" WHERE "userId" = ${lit(id)}`),
        'signup 0,grant 7');
});

test('sessions revoke: every session of the user is refused at a module within 2 s; others keep theirs', async () => {
    const a = await person('adminrevoke');
    const b = await person('adminkeep');
    const second = copyJar(a.jar);
    assert.equal((await get('/qwen/api/me', { headers: a.jar.headers() })).status, 200);
    const t0 = Date.now();
    const r = admin(['sessions', 'revoke', a.user.email]);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /every session of .* is revoked/);
    const worst = await assertRefusedWithin(assert, [a.jar, second], 'nano-admin sessions revoke', { t0 });
    console.log(`# nano-admin sessions revoke: refused at the module after ${worst} ms`);
    const session = await get('/api/auth/session', { headers: a.jar.headers() });
    assert.deepEqual(session.json(), {}, 'the platform says no session');
    assert.equal((await get('/qwen/api/me', { headers: b.jar.headers() })).status, 200, 'another user keeps theirs');
    assert.equal(psql(`SELECT count(*) FROM "AuthSession" WHERE "userId" = ${lit(a.id)}`), '0');
    assert.equal(admin(['sessions', 'revoke', 'nobody-at-all@example.com']).status, 3);
    assert.equal(admin(['sessions', 'revoke']).status, 2);
});

test('usage: generations and credits per module since a day; bad days refused', async () => {
    const a = await person('adminusage');
    const mod = `admin-usage-${Date.now()}`;
    // two generations today (one refunded), one long ago
    psql(`INSERT INTO "Generation" ("id","userId","module","model","kind","status","cost","createdAt") VALUES
          (${lit(mod + '-1')}, ${lit(a.id)}, ${lit(mod)}, 'm', 'text', 'succeeded', 3, now() AT TIME ZONE 'utc'),
          (${lit(mod + '-2')}, ${lit(a.id)}, ${lit(mod)}, 'm', 'text', 'failed', 3, now() AT TIME ZONE 'utc'),
          (${lit(mod + '-3')}, ${lit(a.id)}, ${lit(mod)}, 'm', 'text', 'succeeded', 3, '2020-01-02')`);
    psql(`INSERT INTO "CreditLedger" ("userId","delta","reason","module","generationId","createdAt") VALUES
          (${lit(a.id)}, -3, 'debit', ${lit(mod)}, ${lit(mod + '-1')}, now() AT TIME ZONE 'utc'),
          (${lit(a.id)}, -3, 'debit', ${lit(mod)}, ${lit(mod + '-2')}, now() AT TIME ZONE 'utc'),
          (${lit(a.id)}, 3, 'refund', ${lit(mod)}, ${lit(mod + '-2')}, now() AT TIME ZONE 'utc'),
          (${lit(a.id)}, -3, 'debit', ${lit(mod)}, ${lit(mod + '-3')}, '2020-01-02')`);
    const line = (out) => out.split('\n').find((l) => l.startsWith(mod));

    let r = admin(['usage']);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /^since 30 days ago \(UTC\)\nmodule\s+generations\s+succeeded\s+failed\s+users\s+credits_spent\n/);
    assert.match(line(r.out), new RegExp(`^${mod}\\s+2\\s+1\\s+1\\s+1\\s+3$`), r.out);

    r = admin(['usage', '--since', '2020-01-01']);
    assert.equal(r.status, 0, r.err);
    assert.match(line(r.out), new RegExp(`^${mod}\\s+3\\s+2\\s+1\\s+1\\s+6$`), r.out);

    for (const bad of ['2020-13-45', '2020-02-30']) {
        r = admin(['usage', '--since', bad]);
        assert.equal(r.status, 2, `${bad}: ${r.err}`);
        assert.match(r.err, /is not a date/);
    }
    for (const bad of ['yesterday', '2020-1-1', "2020-01-01'; DROP TABLE x; --"]) {
        r = admin(['usage', '--since', bad]);
        assert.equal(r.status, 2, bad);
        assert.match(r.err, /YYYY-MM-DD/);
    }
    assert.equal(admin(['usage', 'now']).status, 2);
});

// The installed nano-admin (ops/nano-tool.in, as scripts/install.sh lays
// it out) takes DATABASE_URL and NANO_SIGNUP_CREDITS from common.env when
// the caller has none, "as systemd reads the file".  systemd drops the
// blanks (and a CRLF's "\r") around an unquoted value; the wrapper kept
// the trailing ones, so a common.env the backends ran on made nano-admin
// look for a socket folder "…/sock " (the database "cannot be reached")
// and refuse NANO_SIGNUP_CREDITS "7 ".
test('installed nano-admin: common.env values are read as systemd reads them, trailing blanks and CR dropped', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-tool-'));
    const lib = path.join(dir, 'lib'), conf = path.join(dir, 'etc');
    fs.mkdirSync(path.join(lib, 'bin'), { recursive: true });
    fs.mkdirSync(conf);
    fs.symlinkSync(ADMIN, path.join(lib, 'bin/nano-admin'));
    const tool = fs.readFileSync(path.join(ROOT, 'ops/nano-tool.in'), 'utf8')
        .replaceAll('@LIBDIR@', lib).replaceAll('@CONFDIR@', conf).replaceAll('@DATADIR@', dir);
    fs.writeFileSync(path.join(lib, 'nano-tool'), tool, { mode: 0o755 });
    fs.symlinkSync(path.join(lib, 'nano-tool'), path.join(dir, 'nano-admin'));
    const id = `v1tool${Date.now()}`;
    const email = `${id}@example.com`;
    psql(`INSERT INTO "User" ("id", "email", "name") VALUES (${lit(id)}, ${lit(email)}, 'V1 person')`);
    const run = (env, ...args) => {
        const r = spawnSync(path.join(dir, 'nano-admin'), args, {
            encoding: 'utf8', timeout: 30000, env: { PATH: process.env.PATH, ...env },
        });
        return { status: r.status, out: r.stdout, err: r.stderr };
    };
    for (const [i, text] of [
        `# as an editor may leave it\nDATABASE_URL=${DB_URL}   \nNANO_SIGNUP_CREDITS=7 \t\n`,
        `DATABASE_URL = ${DB_URL}\r\nNANO_SIGNUP_CREDITS = "7"  \r\n`,
    ].entries()) {
        fs.writeFileSync(path.join(conf, 'common.env'), text);
        let r = run({}, 'users', 'list', '--limit', '1');
        assert.equal(r.status, 0, `common.env ${i}: ${r.err}`);
        r = run({}, 'credits', 'grant', email, '1', '--reason', `tool ${i}`);
        assert.equal(r.status, 0, `common.env ${i}: ${r.err}`);
        // the first opens the account with the sign-up grant of 7
        assert.equal(balanceOf(id), 8 + i, `common.env ${i}`);
    }
    // the caller's own value wins, and one that is wrong is still refused
    const r = run({ NANO_SIGNUP_CREDITS: '7 x' }, 'credits', 'grant', email, '1', '--reason', 'x');
    assert.equal(r.status, 2, r.err);
    assert.match(r.err, /NANO_SIGNUP_CREDITS must be a number/);
    fs.rmSync(dir, { recursive: true });
});
