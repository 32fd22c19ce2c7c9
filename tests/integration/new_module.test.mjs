// `make new-module` (scripts/new-module.sh, docs/MODULES.md) end to end:
// in a copy of this checkout (its tracked and new files, and build/ so
// that only the new module is compiled), a text module and an image module
// are scaffolded, `make` builds them without rebuilding any other app, and
// `make run` on a port of its own brings them up: each is routed, protected
// (302 to sign-in for a page, 401 for its API), listed in the shared
// header, and generates with the offline provider of its kind, charged
// from the price its migration added.  The scaffold's refusals leave the
// copy as it was.  The test stack is not used; the copy's stack is
// stopped with SIGINT, as a person stops `make run`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Jar, request, newUser, register, signIn, freePort, sleep, SESSION_COOKIE } from './lib.mjs';
import { ROOT, waitFor } from './generations.mjs';
import { psql, lit } from './accounts.mjs';

const TEXT = 'zz-scaffold-t';
const IMAGE = 'zz-scaffold-i';

let copy;           // the copy of the checkout
let port;           // its `make run`'s nginx
let origin;         // its NEXTAUTH_URL
let runner;         // the `make run` child (its own process group)
let runLog = '';
let binsBefore;     // build/bin/* mtimes before the scaffolded build

// make re-raises the SIGINT that stops it: no exit code then, a signal
const running = () => runner && runner.exitCode === null && runner.signalCode === null;

// Stops the copy's make run as a person does (^C: SIGINT to its process
// group) and waits up to 30 s for it to end.
async function stopRun() {
    try { process.kill(-runner.pid, 'SIGINT'); } catch { /* gone */ }
    for (const end = Date.now() + 30000; running() && Date.now() < end;) await sleep(100);
}

// sh(cmd, args, env): runs in the copy, {status, out}.
// The environment of the copy's commands: none of the variables a person
// could have set for their own make run or scaffold, nor those of the
// `make test` this runs under.
function baseEnv(extra = {}) {
    const env = { ...process.env, ...extra };
    for (const k of ['NAME', 'KIND', 'TITLE', 'PORT', 'NEXTAUTH_URL', 'NEXTAUTH_SECRET', 'DATABASE_URL',
        'NANO_LISTEN', 'NANO_MIGRATE', 'MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES']) {
        if (!(k in extra)) delete env[k];
    }
    return env;
}

function sh(cmd, args) {
    const r = spawnSync(cmd, args, { cwd: copy, encoding: 'utf8', env: baseEnv(), timeout: 300000 });
    return { status: r.status, out: `${r.stdout || ''}${r.stderr || ''}` };
}

const newModule = (vars) => sh('make', ['-s', 'new-module', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)]);

// Everything the scaffold writes to, to show a refusal wrote nothing.
function scaffoldState() {
    const list = (d) => fs.readdirSync(path.join(copy, d)).sort().join(',');
    return [fs.readFileSync(path.join(copy, 'modules.conf'), 'utf8'), list('backends'), list('sql'),
        list('nginx.conf.d/modules')].join('\n');
}

function binMtimes() {
    const dir = path.join(copy, 'build/bin');
    return Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.statSync(path.join(dir, f)).mtimeMs]));
}

// The copy's site.
const at = (method, p, opts = {}) => request(method, p, { ...opts, port });

async function signedIn() {
    const u = newUser('scaffold');
    const site = { port, origin };
    const reg = await register(u, {}, site);
    assert.equal(reg.status, 201, reg.text);
    const jar = new Jar();
    const res = await signIn(jar, u.email, u.password, {}, site);
    assert.equal(res.status, 302, res.text);
    assert.ok(jar.get(SESSION_COOKIE), 'signed in');
    return jar;
}

before(async () => {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-new-module-'));
    fs.chmodSync(copy, 0o755);      // nginx's workers and postgres reach into it
    // the checkout's tracked and new files (not .state/ nor node_modules/)
    // and build/ with its times kept, so make builds only what is new
    const files = spawnSync('git', ['ls-files', '-z', '-c', '-o', '--exclude-standard'],
        { cwd: ROOT, encoding: 'buffer', maxBuffer: 64 << 20 });
    let tar;
    if (files.status === 0) {
        const list = files.stdout.toString('utf8').split('\0')
            .filter((f) => f && !f.startsWith('build/') && fs.existsSync(path.join(ROOT, f)));
        list.push('build');
        const listFile = path.join(copy, '.files');
        fs.writeFileSync(listFile, `${list.join('\0')}\0`);
        tar = spawnSync('sh', ['-c', 'tar --null -C "$1" -cf - -T "$2" | tar -C "$3" -xf -', 'sh', ROOT, listFile, copy],
            { encoding: 'utf8' });
        fs.rmSync(listFile);
    } else {
        // not a git checkout (an unpacked tarball), or no git: the tree
        // without what running and testing it left behind
        tar = spawnSync('sh', ['-c', 'tar -C "$1" --exclude=./.git --exclude=./.state '
            + '--exclude=node_modules -cf - . | tar -C "$2" -xf -', 'sh', ROOT, copy], { encoding: 'utf8' });
    }
    assert.equal(tar.status, 0, `copying the checkout: ${tar.stderr}`);
    // a build/ left by another run of this test
    for (const m of [TEXT, IMAGE]) fs.rmSync(path.join(copy, 'build/bin', `nano-${m}`), { force: true });
    binsBefore = binMtimes();
});

after(async () => {
    if (running()) await stopRun();
    if (running()) try { process.kill(-runner.pid, 'SIGKILL'); } catch { /* gone */ }
    if (copy) fs.rmSync(copy, { recursive: true, force: true });
});

test('make new-module refuses a bad name or kind and writes nothing', () => {
    const was = scaffoldState();
    const cases = [
        [{}, /usage: make new-module NAME=<name> KIND=image\|text\|video/],
        [{ NAME: 'qwen', KIND: 'text' }, /"qwen" is listed twice/],
        [{ NAME: 'platform', KIND: 'text' }, /"platform" is reserved/],
        [{ NAME: 'api', KIND: 'image' }, /"api" is reserved/],
        [{ NAME: 'zz', KIND: 'audio' }, /kind "audio" is not image, text or video/],
        [{ NAME: 'Zz', KIND: 'text' }, /"Zz" is not a module name \(a-z, 0-9, '-', '\.'; starting with a letter or digit; at most 27 bytes\)/],
        [{ NAME: '-zz', KIND: 'text' }, /"-zz" is not a module name/],
        [{ NAME: 'zz_x', KIND: 'text' }, /"zz_x" is not a module name/],
        [{ NAME: 'zz/../x', KIND: 'text' }, /"zz\/\.\.\/x" is not a module name/],
        // installed, nano-<name> is a system user: useradd takes 32 bytes
        [{ NAME: 'z'.repeat(28), KIND: 'text' }, /is not a module name .*at most 27 bytes/],
        // a blank in NAME: the line would be read as another module
        [{ NAME: 'zz text offline', KIND: 'text' }, /NAME="zz text offline" KIND="text" is not read back as one module/],
        [{ NAME: 'lib', KIND: 'text' }, /backends\/lib exists already/],
        // the platform's pages: the module's regex location would take them
        [{ NAME: 'settings', KIND: 'text' }, /"settings" is reserved/],
        [{ NAME: 'signup', KIND: 'text' }, /"signup" is reserved/],
        // a tool's binary (nano-admin) and /etc/nano/common.env
        [{ NAME: 'admin', KIND: 'text' }, /"admin" is reserved/],
        [{ NAME: 'common', KIND: 'text' }, /"common" is reserved/],
        // a target of the Makefile, where `make <app>` builds one app
        [{ NAME: 'clean', KIND: 'text' }, /"clean" is reserved/],
        // one nginx upstream for both, which nginx refuses at start
        [{ NAME: 'wan-2-5', KIND: 'video' }, /"wan-2-5" and "wan-2\.5" would share one nginx upstream/],
        [{ NAME: 'nano.banana', KIND: 'image' }, /"nano\.banana" and "nano-banana" would share/],
        // titles the registry would cut at '#', or refuse, so that no backend starts
        [{ NAME: 'zz', KIND: 'text', TITLE: 'C# Coder' }, /TITLE cannot hold '#'/],
        [{ NAME: 'zz', KIND: 'text', TITLE: 'T'.repeat(81) }, /the title is longer than 80 bytes/],
    ];
    for (const [vars, msg] of cases) {
        const r = newModule(vars);
        assert.notEqual(r.status, 0, `${JSON.stringify(vars)} was accepted: ${r.out}`);
        assert.match(r.out, msg, JSON.stringify(vars));
    }
    assert.equal(scaffoldState(), was, 'a refused scaffold wrote nothing');
});

// The title went into main.c's head comment as it was: "*/" ended the
// comment, and the scaffold did not compile.  Taken out again (its
// files, its line and its binary), the copy is as it was.
test('make new-module with a title holding "*/" scaffolds a module that builds', () => {
    const name = 'zz-scaffold-c';
    const was = scaffoldState();
    const sqlWas = fs.readdirSync(path.join(copy, 'sql'));
    const r = newModule({ NAME: name, KIND: 'video', TITLE: 'Clip */ Maker /*' });
    try {
        assert.equal(r.status, 0, r.out);
        const b = sh('make', ['-s', name]);
        assert.equal(b.status, 0, b.out);
        assert.ok(fs.existsSync(path.join(copy, `build/bin/nano-${name}`)), 'built');
    } finally {
        takeOut(name, sqlWas);     // even when it failed, so the tests after run
    }
    assert.equal(scaffoldState(), was, 'taken out again, the copy is as it was');
});

// A scaffolded module taken out again: its files, its migration (what sql/
// holds beyond sqlWas), its build and its registry line.
function takeOut(name, sqlWas) {
    const mig = fs.readdirSync(path.join(copy, 'sql')).filter((f) => !sqlWas.includes(f))
        .map((f) => `sql/${f}`);
    for (const f of [`backends/${name}`, `nginx.conf.d/modules/${name}.conf`, ...mig,
        `build/bin/nano-${name}`, `build/obj/backends/${name}`]) {
        fs.rmSync(path.join(copy, f), { recursive: true, force: true });
    }
    const conf = path.join(copy, 'modules.conf');
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').split('\n')
        .filter((l) => l.split(/\s+/)[0] !== name).join('\n'));
}

// The page's lead sentence took the title as it was, and the page is a
// template: "{{user_email}}" there showed the viewer's email, and a lone
// "{{" swallowed the text up to the next placeholder's "}}".  The lead
// now has the registry's title filled in at each request, as the heading
// has (a title changed in modules.conf left the old one in the lead), so
// the page holds no title at all.
test('make new-module: a title holding "{{" is text on the page, not a placeholder', () => {
    const name = 'zz-scaffold-p';
    const sqlWas = fs.readdirSync(path.join(copy, 'sql'));
    const r = newModule({ NAME: name, KIND: 'text', TITLE: 'Chat {{user_email}} {{ bot' });
    try {
        assert.equal(r.status, 0, r.out);
        const page = fs.readFileSync(path.join(copy, `backends/${name}/public/index.html`), 'utf8');
        const tpl = fs.readFileSync(path.join(copy, 'backends/ui/templates/text.html'), 'utf8');
        const placeholders = (t) => t.match(/\{\{[^}]*\}\}/g);
        assert.deepEqual(placeholders(page), placeholders(tpl), 'the template\'s placeholders, no more');
        assert.match(page, /"nb-lead">\{\{title\}\} is a text module/);
        assert.ok(!page.includes('Chat'), 'the title is not written into the page');
    } finally {
        takeOut(name, sqlWas);
    }
});

// make expands the variables of its command line where a recipe uses
// them: "$5" in a title was dropped and "$(shell ...)" run, and the
// module scaffolded as "Pay , get pwned" (found by the modteam probe).
test('make new-module: a title or name holding "$" is taken as written, not as make\'s', () => {
    const name = 'zz-scaffold-d';
    const sqlWas = fs.readdirSync(path.join(copy, 'sql'));
    const title = "Pay $5, it's $(shell echo pwned) $$ `x`";
    const r = newModule({ NAME: name, KIND: 'text', TITLE: title });
    try {
        assert.equal(r.status, 0, r.out);
        const line = fs.readFileSync(path.join(copy, 'modules.conf'), 'utf8').split('\n')
            .find((l) => l.split(/\s+/)[0] === name);
        assert.equal(line.replace(/^\S+\s+text\s+offline\s+/, ''), title);
    } finally {
        takeOut(name, sqlWas);
    }
    // a "$" in a name is refused by the registry, not turned into another name
    const was = scaffoldState();
    const bad = newModule({ NAME: 'zz$(shell echo x)', KIND: 'text' });
    assert.notEqual(bad.status, 0, bad.out);
    assert.match(bad.out, /"zz\$\(shell" is not a module name/);
    assert.equal(scaffoldState(), was, 'nothing written');
});

// A module taken out (its files, its registry line) keeps its applied
// price migration and row, as migrations are never undone; the same name
// made again wrote a second INSERT of the same row, whose duplicate key
// stopped the migrations and make run (found by a probe).
test('make new-module: the price of a module made again after it was taken out migrates', () => {
    const name = 'zz-scaffold-r';
    const sqlWas = fs.readdirSync(path.join(copy, 'sql'));
    const r = newModule({ NAME: name, KIND: 'image' });
    try {
        assert.equal(r.status, 0, r.out);
        const mig = fs.readdirSync(path.join(copy, 'sql')).filter((f) => !sqlWas.includes(f));
        assert.equal(mig.length, 1, `one migration: ${mig}`);
        const sql = fs.readFileSync(path.join(copy, 'sql', mig[0]), 'utf8');
        // applied once when first made, once more when made again; rolled back
        const out = psql(['BEGIN', sql, sql,
            `SELECT count(*) FROM "ModelPrice" WHERE "module" = ${lit(name)}`, 'ROLLBACK']);
        assert.equal(out, '1', 'one price row, no duplicate key');
    } finally {
        takeOut(name, sqlWas);
    }
});

// A registry whose last line has no newline (an editor that drops it):
// the new line was joined to it, read back as the last module's title,
// and every scaffold refused as "not read back as one module".
test('make new-module adds its line to a registry whose last line has no newline', () => {
    const name = 'zz-scaffold-n';
    const conf = path.join(copy, 'modules.conf');
    const text = fs.readFileSync(conf, 'utf8');
    const sqlWas = fs.readdirSync(path.join(copy, 'sql'));
    fs.writeFileSync(conf, text.replace(/\n+$/, ''));
    try {
        const r = newModule({ NAME: name, KIND: 'text' });
        assert.equal(r.status, 0, r.out);
        const list = spawnSync(path.join(copy, 'build/bin/nano-admin'), ['modules'],
            { encoding: 'utf8', env: { ...baseEnv(), NANO_MODULES_FILE: conf } });
        assert.equal(list.status, 0, list.stderr);
        const rows = list.stdout.trim().split('\n').map((l) => l.split('\t'));
        // the registry's last module, its title as it was, then the new one
        const [lastName, , , ...lastTitle] = text.trim().split('\n').pop().trim().split(/\s+/);
        assert.deepEqual(rows.slice(-2).map((x) => [x[0], x[4]]),
            [[lastName, lastTitle.join(' ')], [name, 'Zz-scaffold-n']], 'each its own line');
    } finally {
        takeOut(name, sqlWas);
        fs.writeFileSync(conf, text);
    }
});

test('make new-module scaffolds; make builds the new apps and rebuilds no other', () => {
    for (const [name, kind, title] of [[TEXT, 'text', 'Scaffold draft'], [IMAGE, 'image', '']]) {
        const vars = { NAME: name, KIND: kind };
        if (title) vars.TITLE = title;
        const r = newModule(vars);
        assert.equal(r.status, 0, r.out);
        assert.match(r.out, new RegExp(`new-module: ${name} \\(${kind}\\) scaffolded`));
        for (const f of [`backends/${name}/main.c`, `backends/${name}/public/index.html`,
            `nginx.conf.d/modules/${name}.conf`]) {
            assert.ok(fs.existsSync(path.join(copy, f)), `${f} written`);
        }
        const line = fs.readFileSync(path.join(copy, 'modules.conf'), 'utf8').split('\n')
            .find((l) => l.split(/\s+/)[0] === name);
        assert.ok(line, 'its registry line');
        assert.deepEqual(line.trim().split(/\s+/).slice(1, 3), [kind, 'offline']);
        assert.equal(newModule(vars).status === 0, false, 'the same name twice is refused');
    }
    // the team gives it its title in the registry, where the title lives:
    // the page's heading and lead follow (after make run, below)
    const conf = path.join(copy, 'modules.conf');
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace(/Scaffold draft\n/, 'Scaffold <Text> & Co\n'));
    assert.match(fs.readFileSync(conf, 'utf8'), new RegExp(`\\n${TEXT} +text +offline +Scaffold <Text> & Co\\n`));
    const b = sh('make', ['-s', 'all']);
    assert.equal(b.status, 0, b.out);
    const now = binMtimes();
    for (const m of [TEXT, IMAGE]) assert.ok(now[`nano-${m}`], `build/bin/nano-${m} built`);
    for (const [bin, t] of Object.entries(binsBefore)) {
        assert.equal(now[bin], t, `build/bin/${bin} was not rebuilt`);
    }
});

// Starts the copy's make run on a new port and waits until it is up.
async function startRun() {
    port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    runLog = '';
    runner = spawn('make', ['run'], {
        cwd: copy, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
        env: baseEnv({ PORT: String(port), NEXTAUTH_URL: origin }),
    });
    runner.stdout.on('data', (d) => { runLog += d; });
    runner.stderr.on('data', (d) => { runLog += d; });
    const end = Date.now() + 180000;
    while (!/Nano Banana is up/.test(runLog)) {
        assert.ok(running(), `make run ended: ${runLog.slice(-2000)}`);
        assert.ok(Date.now() < end, `make run not up after 180 s: ${runLog.slice(-2000)}`);
        await sleep(200);
    }
}

// The pid the copy's stack recorded for name (.state/run/pids/).
const runPid = (name) => Number(fs.readFileSync(path.join(copy, `.state/run/pids/${name}.pid`), 'utf8').split(' ')[0]);

// The pids whose session is sid (field 6 of /proc/<pid>/stat).
function sessionOf(sid) {
    const out = [];
    for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        let stat;
        try { stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(f[3]) === sid && f[0] !== 'Z') out.push(Number(d));
    }
    return out;
}

test('after make run, the new modules are routed, protected, listed and generate offline', async () => {
    await startRun();
    assert.match(runLog, /applied +0\d\d_zz_scaffold_t_price\.sql/, 'its price migration applied');

    // protected: a page sends to sign-in, the API answers 401
    for (const m of [TEXT, IMAGE]) {
        const page = await at('GET', `/${m}/`);
        assert.equal(page.status, 302, `/${m}/ signed out`);
        assert.match(page.headers.location, new RegExp(`/api/auth/signin\\?callbackUrl=%2F${m}%2F$`));
        const api = await at('GET', `/${m}/api/models`);
        assert.equal(api.status, 401);
        assert.deepEqual(api.json(), { error: 'unauthorized', message: 'sign in first' });
        const gen = await at('POST', `/${m}/api/generate`, {
            headers: { 'Content-Type': 'application/json', Origin: origin }, body: '{"prompt":"x"}',
        });
        assert.equal(gen.status, 401, 'no generation without a session');
    }

    const jar = await signedIn();
    // listed in the shared header, on the dashboard and on another module's page
    for (const p of ['/', '/qwen/', `/${TEXT}/`, `/${IMAGE}/`]) {
        const page = await at('GET', p, { headers: jar.headers() });
        assert.equal(page.status, 200, p);
        // (on its own page the link is marked aria-current)
        assert.match(page.text, new RegExp(`href="/${TEXT}"[^>]*>Scaffold &lt;Text&gt; &amp; Co<`), `${p}: the header lists ${TEXT}`);
        assert.match(page.text, new RegExp(`href="/${IMAGE}"[^>]*>Zz-scaffold-i<`), `${p}: the header lists ${IMAGE}`);
    }
    // the registry's title, changed after the scaffold, is text in the
    // page's heading and lead (the lead kept the scaffold's until 2026-12-06)
    const own = await at('GET', `/${TEXT}/`, { headers: jar.headers() });
    assert.match(own.text, /<h1>Scaffold &lt;Text&gt; &amp; Co<\/h1>/);
    assert.match(own.text, /"nb-lead">Scaffold &lt;Text&gt; &amp; Co is a text module/);

    // routed to its own backend, with the offline provider of its kind
    for (const [m, kind] of [[TEXT, 'text'], [IMAGE, 'image']]) {
        const models = await at('GET', `/${m}/api/models`, { headers: jar.headers() });
        assert.equal(models.status, 200, models.text);
        const j = models.json();
        assert.equal(j.module, m);
        assert.equal(j.kind, kind);
        assert.equal(j.offline, true);
        assert.deepEqual(j.models, [{ id: `offline-${kind}`, label: `Offline ${kind}`, cost: 1 }]);
    }

    const JH = { 'Content-Type': 'application/json', Origin: origin };
    const text = await at('POST', `/${TEXT}/api/generate`, {
        headers: jar.headers(JH), body: JSON.stringify({ prompt: 'hello scaffold' }),
    });
    assert.equal(text.status, 200, text.text);
    assert.match(text.json().text, /offline reply/);
    assert.equal(text.json().cost, 1);

    const img = await at('POST', `/${IMAGE}/api/generate`, {
        headers: jar.headers(JH), body: JSON.stringify({ prompt: 'a scaffold', size: '256x256', seed: '3' }),
    });
    assert.equal(img.status, 202, img.text);
    const id = img.json().id;
    const g = await waitFor(jar, IMAGE, id, { port });
    assert.equal(g.status, 'succeeded', JSON.stringify(g));
    assert.equal(g.outputs.length, 1);
    assert.equal(g.outputs[0].mime, 'image/png');
    assert.equal(g.outputs[0].width, 256);
    const media = await at('GET', new URL(g.outputs[0].url, origin).pathname, { headers: jar.headers() });
    assert.equal(media.status, 200);
    assert.equal(media.headers['content-type'], 'image/png');
    const anon = await at('GET', new URL(g.outputs[0].url, origin).pathname);
    assert.ok([302, 401].includes(anon.status), `its media only with a session (${anon.status})`);
    assert.notEqual(anon.headers['content-type'], 'image/png');

    const cr = await at('GET', '/api/credits', { headers: jar.headers() });
    const { balance, ledger } = cr.json();
    assert.equal(balance, 98, 'two generations of 1 credit from the 100 of signing up');
    assert.deepEqual(ledger.filter((l) => l.reason === 'debit').map((l) => l.module).sort(), [IMAGE, TEXT].sort());
    for (const m of [TEXT, IMAGE]) {
        const h = await at('GET', `/${m}/api/history`, { headers: jar.headers() });
        assert.equal(h.status, 200);
        assert.equal(h.json().items.length, 1, `${m}: its own history`);
        assert.equal(h.json().items[0].module, m);
    }

    await stopRun();
    assert.ok(!running(), 'make run stopped on SIGINT');
    assert.match(runLog, /run: stopped/);
    assert.equal(spawnSync('pgrep', ['-f', copy]).status, 1, 'nothing of the copy left running');
});

test('make run restarts a killed backend after 1 s, and later when its binary was missing, and not one stackctl.sh stopped meanwhile; a killed nginx stops it, none of its workers left', async () => {
    await startRun();
    const pid = runPid(TEXT);
    process.kill(pid, 'SIGKILL');
    for (const end = Date.now() + 20000; !/backend zz-scaffold-t restarted \(after 1 s\)/.test(runLog);) {
        assert.ok(Date.now() < end, `no restart: ${runLog.slice(-1500)}`);
        await sleep(100);
    }
    assert.match(runLog, /backend zz-scaffold-t exited unexpectedly/);
    assert.match(runLog, /\/zz-scaffold-t\/ answers 502 meanwhile; restarting it in 1 s/);
    assert.notEqual(runPid(TEXT), pid, 'a new process');
    const jar = await signedIn();
    const back = await at('GET', `/${TEXT}/api/models`, { headers: jar.headers() });
    assert.equal(back.status, 200, 'the module answers again');

    // its binary gone when it is restarted (a rebuild under way): the
    // restart is tried again later, and make run goes on (it stopped)
    const bin = path.join(copy, `build/bin/nano-${TEXT}`);
    fs.renameSync(bin, `${bin}.away`);
    const from = runLog.length;
    process.kill(runPid(TEXT), 'SIGKILL');
    for (const end = Date.now() + 20000; !/backend zz-scaffold-t did not start; trying again in \d+ s/.test(runLog.slice(from));) {
        assert.ok(Date.now() < end && running(), `no later try: ${runLog.slice(from)}`);
        await sleep(100);
    }
    assert.match(runLog.slice(from), /nano-zz-scaffold-t is missing/);
    fs.renameSync(`${bin}.away`, bin);
    for (const end = Date.now() + 20000; !/backend zz-scaffold-t restarted \(after \d+ s\)/.test(runLog.slice(from));) {
        assert.ok(Date.now() < end && running(), `not restarted once back: ${runLog.slice(from)}`);
        await sleep(100);
    }
    const again = await at('GET', `/${TEXT}/api/models`, { headers: jar.headers() });
    assert.equal(again.status, 200, 'the module answers once its binary is back');

    // stopped with stackctl.sh while it waits out its restart's backoff:
    // it stays stopped (it was started again at the backoff's end), until
    // stackctl.sh starts it
    const ctl = (...args) => spawnSync('bash', [path.join(copy, 'scripts/stackctl.sh'), '--state',
        path.join(copy, '.state/run'), ...args], { encoding: 'utf8', env: baseEnv(), timeout: 60000 });
    const at2 = runLog.length;
    process.kill(runPid(TEXT), 'SIGKILL');
    for (const end = Date.now() + 20000; !/zz-scaffold-t\/ answers 502 meanwhile; restarting it in \d+ s/.test(runLog.slice(at2));) {
        assert.ok(Date.now() < end && running(), `not seen dead: ${runLog.slice(at2)}`);
        await sleep(50);
    }
    const stop = ctl('stop-backend', TEXT);
    assert.equal(stop.status, 0, stop.stderr);
    for (const end = Date.now() + 40000; !/backend zz-scaffold-t was stopped with stackctl\.sh; not restarted/.test(runLog.slice(at2));) {
        assert.ok(Date.now() < end && running(), `no word of the stop: ${runLog.slice(at2)}`);
        await sleep(100);
    }
    await sleep(1500);
    assert.doesNotMatch(runLog.slice(at2), /backend zz-scaffold-t restarted/);
    assert.ok(!fs.existsSync(path.join(copy, `.state/run/pids/${TEXT}.pid`)), 'not running');
    const start = ctl('start-backend', TEXT);
    assert.equal(start.status, 0, start.stderr);
    const third = await at('GET', `/${TEXT}/api/models`, { headers: jar.headers() });
    assert.equal(third.status, 200, 'started again with stackctl.sh');

    // nginx's master killed outright: its workers once kept the port,
    // serving 502s, after the run had stopped everything else
    const master = runPid('nginx');
    assert.ok(sessionOf(master).length > 1, 'nginx has workers');
    process.kill(master, 'SIGKILL');
    for (const end = Date.now() + 30000; running();) {
        assert.ok(Date.now() < end, `make run still running: ${runLog.slice(-1500)}`);
        await sleep(100);
    }
    assert.match(runLog, /nginx exited unexpectedly/);
    assert.match(runLog, /run: stopped/);
    assert.deepEqual(sessionOf(master), [], 'none of nginx\'s workers left');
    await assert.rejects(at('GET', '/ui/ui.css', { timeout: 3000 }), 'the port is closed');
    assert.equal(spawnSync('pgrep', ['-f', copy]).status, 1, 'nothing of the copy left running');
});
