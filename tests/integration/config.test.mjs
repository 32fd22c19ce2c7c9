// Refusals at start-up, with the real binaries and no running stack:
//  - nginx with our module refuses a configuration whose key file is
//    missing, unreadable, short or empty, `nano_auth on` without a key file,
//    a key file without `nano_auth_origin`, origins that are not bare
//    http(s) origins or mix schemes, a nano_auth_leeway over 300 s, a
//    nano_auth_max_age outside 300 s .. 30 days, and a
//    login URL that could leave the origin (`nginx -t`, a private prefix
//    in a temp dir; nothing listens);
//  - a backend refuses a non-loopback --listen address, or an inherited
//    non-loopback socket on fd 0, with exit code 2, a clear message and no
//    socket made; loopback TCP, unix sockets and an inherited loopback
//    socket are served;
//  - make module (scripts/build-module.sh) renames the new .so over the
//    old one, so a running nginx's mapped copy is never written into;
//  - make run (scripts/run.sh) refuses a bad PORT, NANO_READ_TIMEOUT or
//    NANO_MIGRATE before it starts anything, and scripts/lib/stack.sh
//    stops a killed run's leftovers in order, a process on purpose
//    without its pid file outliving it, and a backend that never listens
//    once its start gives up (decoy processes in a temp dir).
// Only loopback addresses ever carry traffic here.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, MODULES } from './lib.mjs';
import { runCheckout, stackPids } from './checkout.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NGINX = process.env.NGINX || '/usr/sbin/nginx';
const MODULE_SO = path.join(ROOT, 'build/modules/ngx_http_nano_auth_module.so');
const BIN = path.join(ROOT, 'build/bin');
const APPS = ['platform', 'nano-banana', 'seedream', 'qwen', 'grok', 'openai', 'wan-2.5'];
const KEY = 'nano-config-test-key-0123456789abcdefghij';   // 41 bytes
const TIMEOUT = 5000;   // a refusal or a start must come well within this

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-config-test-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let tmpSeq = 0;
const tmpDir = () => {
    const d = path.join(tmpRoot, String(++tmpSeq));
    fs.mkdirSync(d);
    return d;
};

const which = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
const isRoot = process.getuid?.() === 0;

// --- nginx ----------------------------------------------------------------

// nginxTest(httpLines, files): writes the files into a fresh prefix, a
// minimal nginx.conf loading our module with httpLines in http {}, and runs
// `nginx -t` there.  -> {code, stderr, dir}
function nginxTest(httpLines, { files = {}, wrap = [] } = {}) {
    const dir = tmpDir();
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    const lines = typeof httpLines === 'function' ? httpLines(dir) : httpLines;
    const conf = [
        `load_module ${MODULE_SO};`,
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/err.log;`,
        'events {}',
        'http {',
        '    access_log off;',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
            .map((p) => `    ${p}_temp_path ${dir}/${p}_temp;`),
        ...lines.map((l) => `    ${l}`),
        // A unix socket: `nginx -t` binds nothing, and no TCP port is named.
        `    server { listen unix:${dir}/nginx.sock; location / { return 204; } }`,
        '}',
        '',
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
    const args = ['-t', '-p', `${dir}/`, '-c', `${dir}/nginx.conf`, '-e', `${dir}/err.log`];
    const cmd = wrap.length ? wrap[0] : NGINX;
    const r = spawnSync(cmd, wrap.length ? [...wrap.slice(1), NGINX, ...args] : args,
        { encoding: 'utf8', timeout: 10000, killSignal: 'SIGKILL' });
    assert.equal(r.error, undefined, `${cmd}: ${r.error}`);
    assert.equal(r.signal, null, `nginx -t was killed (${r.signal}): it hung`);
    return { code: r.status, stderr: r.stderr, dir };
}

function assertEmerg(r, ...needles) {
    assert.notEqual(r.code, 0, `nginx -t must fail; stderr:\n${r.stderr}`);
    assert.match(r.stderr, /\[emerg\]/, r.stderr);
    assert.match(r.stderr, /test failed/, r.stderr);
    for (const n of needles) {
        assert.ok(r.stderr.includes(n), `stderr names ${JSON.stringify(n)}:\n${r.stderr}`);
    }
}

function assertOk(r) {
    assert.equal(r.code, 0, `nginx -t must succeed; stderr:\n${r.stderr}`);
    assert.match(r.stderr, /test is successful/, r.stderr);
    assert.doesNotMatch(r.stderr, /\[(emerg|alert|crit|error)\]/, r.stderr);
}

const ORIGIN_LINE = 'nano_auth_origin http://127.0.0.1:8080;';
const withKeys = (dir) => [`nano_auth_secret_file ${dir}/keys;`, ORIGIN_LINE, 'nano_auth on;'];
const keyFile = { files: { keys: `${KEY}\n` } };

test('nginx: prerequisites (system nginx, our module built)', () => {
    assert.ok(fs.existsSync(NGINX), `${NGINX} is missing`);
    assert.ok(fs.existsSync(MODULE_SO), `${MODULE_SO} is missing: run make`);
});

test('nginx -t: a valid key file (blank lines, CRLF, a 32-byte key) is accepted', () => {
    const keys = `\r\n${KEY}\r\n\r\n   \r\n${'k'.repeat(32)}\r\n\n\t\n`;
    assertOk(nginxTest(withKeys, { files: { keys } }));
    // The last line without a newline, LF only.
    assertOk(nginxTest(withKeys, { files: { keys: `${KEY}\n${'z'.repeat(32)}` } }));
});

test('nginx -t: a missing key file stops nginx with an emerg naming the directive and the path', () => {
    const r = nginxTest(withKeys);
    assertEmerg(r, 'nano_auth_secret_file', `${r.dir}/keys`, 'No such file or directory');
    // A relative path is resolved against the prefix and named in full.
    const rel = nginxTest(['nano_auth_secret_file no-such-keys;']);
    assertEmerg(rel, 'nano_auth_secret_file', `${rel.dir}/no-such-keys`);
});

test('nginx -t: an unreadable key file stops nginx', (t) => {
    // Mode 000.  root reads anything (CAP_DAC_OVERRIDE), so as root nginx
    // runs without the DAC capabilities (setpriv), as an unprivileged
    // operator's nginx would.
    let wrap = [];
    if (isRoot) {
        const setpriv = which('setpriv');
        if (!setpriv) {
            t.skip('root without setpriv: a mode-000 file stays readable');
            return;
        }
        wrap = [setpriv, '--bounding-set=-dac_override,-dac_read_search'];
    }
    const r = nginxTest((dir) => {
        fs.writeFileSync(`${dir}/keys`, `${KEY}\n`, { mode: 0o000 });
        fs.chmodSync(`${dir}/keys`, 0o000);
        return withKeys(dir);
    }, { wrap });
    assertEmerg(r, 'nano_auth_secret_file', `${r.dir}/keys`, 'Permission denied');
});

test('nginx -t: a directory as key file stops nginx (cannot read)', () => {
    const r = nginxTest((dir) => {
        fs.mkdirSync(`${dir}/keys`);
        return withKeys(dir);
    });
    assertEmerg(r, 'nano_auth_secret_file', `${r.dir}/keys`, 'cannot read');
});

test('nginx -t: a key of 31 bytes stops nginx ("shorter than 32 bytes"), CR not counted', () => {
    let r = nginxTest(withKeys, { files: { keys: `${'s'.repeat(31)}\n` } });
    assertEmerg(r, 'nano_auth_secret_file', 'key on line 1 is shorter than 32 bytes');
    // 31 bytes + CR: the CR is the line ending, not a key byte.
    r = nginxTest(withKeys, { files: { keys: `${'s'.repeat(31)}\r\n` } });
    assertEmerg(r, 'shorter than 32 bytes');
    // A good first key does not excuse a short second one (line 3 here).
    r = nginxTest(withKeys, { files: { keys: `${KEY}\n\n${'s'.repeat(31)}\n` } });
    assertEmerg(r, 'key on line 3 is shorter than 32 bytes');
});

test('nginx -t: an empty key file, or one of blank lines only, stops nginx ("no keys")', () => {
    for (const keys of ['', '\n\n', '\r\n  \r\n\t\n']) {
        const r = nginxTest(withKeys, { files: { keys } });
        assertEmerg(r, 'nano_auth_secret_file', 'no keys');
    }
});

test('nginx -t: `nano_auth on` without a key file stops nginx', () => {
    // At http level, and in a location with no key file anywhere.
    assertEmerg(nginxTest(['nano_auth on;']), 'nano_auth_secret_file', '"nano_auth on"');
    assertEmerg(nginxTest(['server { listen unix:/nonexistent/x.sock; location /m/ { nano_auth on; } }']),
        'nano_auth_secret_file');
});

test('nginx -t: a login URL that could leave the origin or split the Location header stops nginx', () => {
    for (const url of ['//evil.com', '/\\\\evil.com', 'evil.com/login', 'javascript:alert(1)', 'ftp://x/']) {
        const r = nginxTest((dir) => [...withKeys(dir), `nano_auth_login_url "${url}";`],
            { files: { keys: `${KEY}\n` } });
        assertEmerg(r, 'nano_auth_login_url');
    }
    // It goes into the Location header as it is: nginx's "\r\n" in a
    // quoted string would split the header, a space or tab breaks it.
    for (const url of ['/a\\r\\nX-Injected: 1', '/sign in', '/sign\\tin', 'https://login.example.com/a\\n']) {
        const r = nginxTest((dir) => [...withKeys(dir), `nano_auth_login_url "${url}";`],
            { files: { keys: `${KEY}\n` } });
        assertEmerg(r, '"nano_auth_login_url" must not hold spaces or control characters');
    }
    // A path and an absolute http(s) URL are fine.
    for (const url of ['/api/auth/signin', 'https://login.example.com/api/auth/signin',
        '/sign%20in?next=%0A']) {
        assertOk(nginxTest((dir) => [...withKeys(dir), `nano_auth_login_url "${url}";`],
            { files: { keys: `${KEY}\n` } }));
    }
});

test('nginx -t: a nano_auth_cookie that is no cookie name stops nginx; a token is taken', () => {
    // nginx's "\r\n", a space, a comma, a quote: no browser sends such a
    // name, so the gateway would never find the session, and said nothing.
    for (const name of ['a b', 'a,b', 'a\\"b', 'a\\r\\nb', 'a;b', 'a=b', '(x)', 'a/b', 'sess\u00e9', '', 'x'.repeat(201)]) {
        const r = nginxTest((dir) => [...withKeys(dir), `nano_auth_cookie "${name}";`], keyFile);
        assertEmerg(r, 'invalid "nano_auth_cookie"', 'a cookie name of 1 to 200 letters, digits and !#$%&\'*+-.^_`|~');
    }
    for (const name of ['next-auth.session-token', 'x', "a!#$%&'*+-.^_`|~Z9", 'x'.repeat(200)]) {
        assertOk(nginxTest((dir) => [...withKeys(dir), `nano_auth_cookie "${name}";`], keyFile));
    }
});

test('nginx -t: a key file without nano_auth_origin stops nginx', () => {
    // At http level, and a server that inherits the key file but names no
    // origin while another one does.
    const need = '"nano_auth_secret_file" needs "nano_auth_origin"';
    assertEmerg(nginxTest((dir) => [`nano_auth_secret_file ${dir}/keys;`], keyFile), need);
    assertEmerg(nginxTest((dir) => [`nano_auth_secret_file ${dir}/keys;`,
        `server { listen unix:${dir}/a.sock; ${ORIGIN_LINE} }`,
        `server { listen unix:${dir}/b.sock; location / { nano_auth on; } }`], keyFile), need);
    // The origin at server level, the key file at http level: fine.
    assertOk(nginxTest((dir) => [`nano_auth_secret_file ${dir}/keys;`, ORIGIN_LINE,
        `server { listen unix:${dir}/a.sock; nano_auth_origin https://a.example.com; }`], keyFile));
    // No key file, no origin needed.
    assertOk(nginxTest(['nano_auth off;']));
});

test('nginx -t: origins of mixed schemes stop nginx', () => {
    for (const list of ['https://a.example.com http://b.example.com',
        'http://a.example.com HTTPS://b.example.com']) {
        const r = nginxTest((dir) => [`nano_auth_secret_file ${dir}/keys;`, `nano_auth_origin ${list};`], keyFile);
        assertEmerg(r, 'nano_auth_origin', 'mixes http and https origins');
    }
});

test('nginx -t: an origin with a path, query, fragment or user stops nginx', () => {
    for (const o of ['https://app.example.com/', 'https://app.example.com/app', 'http://a.example.com:8080/x',
        'https://app.example.com?x=1', 'https://app.example.com#top']) {
        const r = nginxTest((dir) => [`nano_auth_secret_file ${dir}/keys;`, `nano_auth_origin "${o}";`], keyFile);
        assertEmerg(r, `invalid origin "${o}"`, 'no path, query or fragment');
    }
    const r = nginxTest((dir) => [`nano_auth_secret_file ${dir}/keys;`, 'nano_auth_origin https://user:pw@app.example.com;'], keyFile);
    assertEmerg(r, 'invalid origin', 'no user name or password');
});

test('nginx -t: a bad origin URL stops nginx', () => {
    const bad = {
        'app.example.com': 'not an http:// or https:// origin',
        'ftp://app.example.com': 'not an http:// or https:// origin',
        '//app.example.com': 'not an http:// or https:// origin',
        'https://': 'not an http:// or https:// origin',
        'https://:443': 'no host',
        'https://app.exa mple.com': 'an invalid host name',
        'https://app.example.com:': 'an invalid port',
        'https://app.example.com:0': 'an invalid port',
        'https://app.example.com:65536': 'an invalid port',
        'https://app.example.com:44x': 'an invalid port',
        'https://[::1': 'an invalid IPv6 address',
        'https://[]': 'an invalid IPv6 address',
        'https://[::1]x': 'an invalid port',
    };
    for (const [o, why] of Object.entries(bad)) {
        const r = nginxTest((dir) => [`nano_auth_secret_file ${dir}/keys;`, `nano_auth_origin "${o}";`], keyFile);
        assertEmerg(r, `invalid origin "${o}"`, why);
    }
});

test('nginx -t: nano_auth_origin twice, or one origin twice, stops nginx', () => {
    let r = nginxTest((dir) => [`nano_auth_secret_file ${dir}/keys;`, ORIGIN_LINE, ORIGIN_LINE], keyFile);
    assertEmerg(r, '"nano_auth_origin" directive is duplicate');
    // The same origin once normalised (case, default port) is a duplicate too.
    r = nginxTest((dir) => [`nano_auth_secret_file ${dir}/keys;`,
        'nano_auth_origin https://a.example.com HTTPS://A.Example.com:443;'], keyFile);
    assertEmerg(r, 'duplicate origin "https://a.example.com"');
});

test('nginx -t: good origins are accepted (several, IPv6, any case, default and other ports)', () => {
    for (const list of ['https://app.example.com', 'HTTPS://App.Example.COM:443 https://b.example.com:8443',
        'http://[::1]:8080 http://127.0.0.1', 'http://localhost:18080 http://nano_dev.local']) {
        assertOk(nginxTest((dir) => [`nano_auth_secret_file ${dir}/keys;`, `nano_auth_origin ${list};`, 'nano_auth on;'], keyFile));
    }
});

test('nginx -t: nano_auth_revocation_file is read by the workers, not at start; twice is refused', () => {
    // A file that does not exist yet does not stop nginx: the workers log
    // it and enforce no revocations until the platform writes it.
    assertOk(nginxTest((dir) => [...withKeys(dir), `nano_auth_revocation_file ${dir}/no-such-file;`], keyFile));
    assertEmerg(nginxTest((dir) => [...withKeys(dir), `nano_auth_revocation_file ${dir}/a;`,
        `nano_auth_revocation_file ${dir}/b;`], keyFile), '"nano_auth_revocation_file" directive is duplicate');
    assertEmerg(nginxTest((dir) => [...withKeys(dir), 'nano_auth_revocation_file "";'], keyFile),
        '"nano_auth_revocation_file" directive needs a path');
});

test('nginx -t: nano_auth_hsts needs https origins (an http site must not promise https); a bad time is refused', () => {
    const httpSite = (dir) => [`nano_auth_secret_file ${dir}/keys;`, 'nano_auth_origin http://127.0.0.1:8080;'];
    assertEmerg(nginxTest((dir) => [...httpSite(dir), 'nano_auth_hsts 1y;'], keyFile),
        '"nano_auth_hsts" needs https origins in "nano_auth_origin"');
    assertOk(nginxTest((dir) => [...httpSite(dir), 'nano_auth_hsts 0;'], keyFile));
    const httpsSite = (dir) => [`nano_auth_secret_file ${dir}/keys;`, 'nano_auth_origin https://app.example.com;'];
    assertEmerg(nginxTest((dir) => [...httpsSite(dir), 'nano_auth_hsts forever;'], keyFile), 'invalid value');
    for (const v of ['365d', '1y', '31536000']) {
        assertOk(nginxTest((dir) => [...httpsSite(dir), `nano_auth_hsts ${v};`], keyFile));
    }
});

test('nginx -t: nano_auth_leeway over 300 s stops nginx at every level; up to 300 s is taken', () => {
    // The platform drops a revocation NANO_REVOKE_GRACE (300 s) after the
    // token's exp: a longer leeway would take a signed-out token again.
    for (const v of ['301', '301s', '6m', '1h', '100y']) {
        for (const at of [(l) => [l], (l) => [`server { listen unix:/nonexistent/x.sock; ${l} }`],
            (l) => [`server { listen unix:/nonexistent/x.sock; location /m/ { ${l} } }`]]) {
            const r = nginxTest((dir) => [...withKeys(dir), ...at(`nano_auth_leeway ${v};`)], keyFile);
            assertEmerg(r, '"nano_auth_leeway" must be at most 300 s');
        }
    }
    for (const v of ['0', '60s', '300', '5m']) {
        assertOk(nginxTest((dir) => [...withKeys(dir), `nano_auth_leeway ${v};`], keyFile));
    }
});

test('nginx -t: nano_auth_max_age takes the platform\'s NANO_SESSION_MAX_AGE range, 300 s to 30 days, at every level', () => {
    for (const v of ['0', '299', '299s', '4m', '2592001', '31d', 'ten']) {
        for (const at of [(l) => [l], (l) => [`server { listen unix:/nonexistent/x.sock; ${l} }`],
            (l) => [`server { listen unix:/nonexistent/x.sock; location /m/ { ${l} } }`]]) {
            const r = nginxTest((dir) => [...withKeys(dir), ...at(`nano_auth_max_age ${v};`)], keyFile);
            assert.notEqual(r.code, 0, `nano_auth_max_age ${v} was taken`);
            if (v !== 'ten') assertEmerg(r, '"nano_auth_max_age" must be from 300 s to 2592000 s, as the platform\'s NANO_SESSION_MAX_AGE');
        }
    }
    for (const v of ['300', '5m', '1h', '2592000s', '30d']) {
        assertOk(nginxTest((dir) => [...withKeys(dir), `nano_auth_max_age ${v};`], keyFile));
    }
});

// --- backends ---------------------------------------------------------------

const backendEnv = (extra = {}) => ({
    PATH: process.env.PATH,
    NEXTAUTH_URL: 'http://127.0.0.1:8080',
    NANO_ROOT: ROOT,
    NANO_SECRET_FILE: KEYFILE,
    ...extra,
});
const KEYFILE = path.join(tmpRoot, 'backend-keys');
fs.writeFileSync(KEYFILE, `${KEY}\n`, { mode: 0o600 });

// start(app, args, {stdin, env}): a backend process with stderr collected.
// wait(ms) resolves {code, signal, stderr, hung}: a process still running
// after ms is SIGKILLed and reported as hung.
function start(app, args, { stdin = 'ignore', env = {} } = {}) {
    const child = spawn(path.join(BIN, `nano-${app}`), args, {
        stdio: [stdin, 'ignore', 'pipe'], env: backendEnv(env),
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((resolve) => {
        child.on('close', (code, signal) => resolve({ code, signal }));
    });
    return {
        child,
        get stderr() { return stderr; },
        async wait(ms = TIMEOUT) {
            let hung = false;
            const timer = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, ms);
            const r = await exited;
            clearTimeout(timer);
            return { ...r, stderr, hung };
        },
        async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            return this.wait();
        },
    };
}

// Ports in LISTEN state, any address, IPv4 and IPv6 (what `ss -ltn` shows).
function listeningPorts() {
    const ports = new Set();
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
        let text = '';
        try {
            text = fs.readFileSync(f, 'utf8');
        } catch {
            continue;
        }
        for (const line of text.split('\n').slice(1)) {
            const cols = line.trim().split(/\s+/);
            if (cols[3] === '0A') ports.add(parseInt(cols[1].split(':').pop(), 16));
        }
    }
    return ports;
}

// Connects until it works or ms pass.
async function connects(target, ms = TIMEOUT) {
    const end = Date.now() + ms;
    for (;;) {
        const ok = await new Promise((resolve) => {
            const s = net.connect(target);
            s.once('connect', () => { s.destroy(); resolve(true); });
            s.once('error', () => resolve(false));
        });
        if (ok) return true;
        if (Date.now() > end) return false;
        await new Promise((r) => setTimeout(r, 50));
    }
}

const REFUSAL = /refusing to listen on .*only loopback addresses/;

test('backends: every app refuses --listen 0.0.0.0:PORT with exit 2, before binding anything', async () => {
    const port = await freePort();
    for (const app of APPS) {
        const t0 = Date.now();
        const r = await start(app, ['--listen', `0.0.0.0:${port}`]).wait();
        assert.equal(r.hung, false, `nano-${app} hung instead of refusing`);
        assert.equal(r.code, 2, `nano-${app} exit code; stderr: ${r.stderr}`);
        assert.match(r.stderr, REFUSAL, `nano-${app} stderr`);
        assert.ok(r.stderr.includes(`0.0.0.0:${port}`), `nano-${app} names the address: ${r.stderr}`);
        assert.ok(Date.now() - t0 < TIMEOUT, 'promptly');
        assert.ok(!listeningPorts().has(port), `nothing listens on ${port} after nano-${app}`);
    }
});

test('backends: non-loopback and wildcard addresses are refused with exit 2 and a clear message', async () => {
    const port = await freePort();
    for (const addr of [`10.1.2.3:${port}`, `192.168.0.1:${port}`, `[::]:${port}`, `[2001:db8::1]:${port}`]) {
        const r = await start('qwen', ['--listen', addr]).wait();
        assert.equal(r.hung, false, `--listen ${addr}: hung`);
        assert.equal(r.code, 2, `--listen ${addr}: stderr ${r.stderr}`);
        assert.match(r.stderr, REFUSAL, `--listen ${addr}`);
        assert.ok(r.stderr.includes(addr), `names ${addr}: ${r.stderr}`);
        assert.ok(!listeningPorts().has(port), `nothing listens on ${port} after --listen ${addr}`);
    }
    // libfcgi's ":PORT" (every interface) and other malformed specs: usage, 2.
    for (const addr of [`:${port}`, 'example.com:80', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', 'unix:relative.sock']) {
        const r = await start('qwen', ['--listen', addr]).wait();
        assert.equal(r.hung, false, `--listen ${addr}: hung`);
        assert.equal(r.code, 2, `--listen ${addr}: stderr ${r.stderr}`);
        assert.match(r.stderr, /--listen|unix socket path must be absolute/, `--listen ${addr}: ${r.stderr}`);
    }
    assert.ok(!listeningPorts().has(port), `nothing listens on ${port}`);
});

test('backends: a refused address makes no socket at all (strace)', async (t) => {
    const strace = which('strace');
    if (!strace) {
        t.skip('strace is not installed');
        return;
    }
    const port = await freePort();
    const out = path.join(tmpDir(), 'strace.txt');
    const r = spawnSync(strace, ['-f', '-qq', '-e', 'trace=socket,bind,listen', '-o', out,
        path.join(BIN, 'nano-qwen'), '--listen', `0.0.0.0:${port}`],
    { encoding: 'utf8', env: backendEnv(), timeout: TIMEOUT, killSignal: 'SIGKILL' });
    if (r.status !== 2 && /ptrace|Operation not permitted/.test(r.stderr)) {
        t.skip(`strace cannot trace here: ${r.stderr.trim()}`);
        return;
    }
    assert.equal(r.signal, null, 'hung');
    assert.equal(r.status, 2, r.stderr);
    const calls = fs.readFileSync(out, 'utf8');
    assert.doesNotMatch(calls, /\b(bind|listen)\(/, `no bind or listen:\n${calls}`);
    assert.doesNotMatch(calls, /\bsocket\(AF_INET6?\b/, `no TCP socket:\n${calls}`);
});

test('backends: --listen 127.0.0.1:PORT serves (accepts a connection) and stops on TERM', async () => {
    const port = await freePort();
    const p = start('qwen', ['--listen', `127.0.0.1:${port}`]);
    try {
        assert.ok(await connects({ host: '127.0.0.1', port }), `nothing accepted on 127.0.0.1:${port}: ${p.stderr}`);
        assert.equal(p.child.exitCode, null, 'still running');
        // Bound to loopback only, not to every interface.
        const tcp = fs.readFileSync('/proc/net/tcp', 'utf8');
        const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
        assert.ok(tcp.includes(` ${hex} `), `127.0.0.1:${port} in /proc/net/tcp`);
    } finally {
        const r = await p.stop();
        assert.equal(r.hung, false, 'stops on TERM');
        assert.equal(r.code, 0, r.stderr);
    }
    assert.match(p.stderr, new RegExp(`serving qwen on 127\\.0\\.0\\.1:${port}`));
    assert.ok(!listeningPorts().has(port), 'the port is free again');
});

test('backends: --listen unix:PATH serves on a 0660 socket and removes it on TERM', async () => {
    const sock = path.join(tmpDir(), 'x.sock');
    const p = start('qwen', ['--listen', `unix:${sock}`]);
    try {
        assert.ok(await connects({ path: sock }), `nothing accepted on ${sock}: ${p.stderr}`);
        const st = fs.statSync(sock);
        assert.ok(st.isSocket(), 'a socket');
        assert.equal(st.mode & 0o777, 0o660, `mode ${(st.mode & 0o777).toString(8)}`);
    } finally {
        const r = await p.stop();
        assert.equal(r.hung, false, 'stops on TERM');
        assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(!fs.existsSync(sock), 'the socket file is removed');
});

test('backends: a stale socket file (its process killed) is replaced; a socket in use or a file that is no socket stops the start naming it', async () => {
    const dir = tmpDir();
    const sock = path.join(dir, 'x.sock');
    // what a kill -9 leaves: the file of a socket nobody listens on
    const holder = spawn(process.execPath, ['-e',
        `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`],
    { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('close', resolve));
    assert.ok(fs.statSync(sock).isSocket(), 'a stale socket file to start on');
    const p = start('qwen', ['--listen', `unix:${sock}`]);
    try {
        assert.ok(await connects({ path: sock }), `nothing accepted on ${sock}: ${p.stderr}`);
        // a second process on the same path must not take it over
        const q = start('qwen', ['--listen', `unix:${sock}`]);
        const r = await q.wait();
        assert.equal(r.hung, false, 'the second start ends');
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /x\.sock is in use by another process/);
        assert.ok(await connects({ path: sock }), 'the first still serves');
    } finally {
        const r = await p.stop();
        assert.equal(r.code, 0, r.stderr);
    }
    fs.writeFileSync(sock, 'not a socket');
    const f = await start('qwen', ['--listen', `unix:${sock}`]).wait();
    assert.equal(f.code, 1, f.stderr);
    assert.match(f.stderr, /x\.sock exists and is not a socket/);
    assert.equal(fs.readFileSync(sock, 'utf8'), 'not a socket', 'the file is left as it was');
});

// A listening socket of ours handed to the backend as fd 0, the way
// spawn-fcgi and systemd do (node passes a server's fd as a stdio entry).
async function inherited(host) {
    const server = net.createServer();
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, resolve);
    });
    const { port } = server.address();
    const fd = server._handle?.fd;
    assert.ok(Number.isInteger(fd) && fd >= 0, 'the listening socket\'s fd');
    const p = start('qwen', [], { stdin: fd });
    // Our copy closes: from now on only the backend holds the socket.
    await new Promise((resolve) => server.close(resolve));
    return { p, port };
}

test('backends: an inherited listening socket on 0.0.0.0 (fd 0) is refused with exit 2', async () => {
    const { p, port } = await inherited('0.0.0.0');
    const r = await p.wait();
    assert.equal(r.hung, false, 'hung instead of refusing');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, REFUSAL);
    assert.match(r.stderr, /inherited socket \(fd 0\)/);
    assert.ok(!listeningPorts().has(port), `nothing listens on ${port} any more`);
});

test('backends: an inherited loopback listening socket (fd 0) is served', async () => {
    const { p, port } = await inherited('127.0.0.1');
    try {
        // the kernel accepts connections on the inherited socket before
        // the backend runs; a TERM before its handlers are set would kill it
        for (let i = 0; i < 200 && !/serving qwen on inherited fd 0/.test(p.stderr); i++) {
            await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(await connects({ host: '127.0.0.1', port }), `nothing accepted: ${p.stderr}`);
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(p.child.exitCode, null, `still running: ${p.stderr}`);
    } finally {
        const r = await p.stop();
        assert.equal(r.hung, false, 'stops on TERM');
        assert.equal(r.code, 0, r.stderr);
    }
    assert.match(p.stderr, /serving qwen on inherited fd 0/);
});

test('backends: no --listen and no socket on fd 0: exit 2 with a usage message', async () => {
    const r = await start('qwen', []).wait();
    assert.equal(r.hung, false);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no --listen given and stdin is not a socket/);
});

// An empty --socket-mode (a unit or script whose variable was unset) was
// read as mode 0: the backend served on a socket nginx's workers could not
// open, and every request was a 502 (found by the config probe).
test('backends: an empty or non-octal --socket-mode or --workers is refused with exit 2, no socket made', () => {
    const sock = path.join(tmpDir(), 'mode.sock');
    // plain digits only: strtol took a leading blank or sign (" 0660",
    // "+4") and refused a trailing one (found by an earlier probe)
    for (const args of [['--socket-mode', ''], ['--socket-mode', '66o'], ['--socket-mode', '1777'],
        ['--socket-mode', ' 0660'], ['--socket-mode', '+660'], ['--socket-mode', '-0'],
        ['--workers', ''], ['--workers', '4x'], ['--workers', ' 4'], ['--workers', '+4'], ['--workers', '4 ']]) {
        const r = spawnSync(path.join(BIN, 'nano-qwen'), ['--listen', `unix:${sock}`, ...args], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL', env: backendEnv({ NANO_MEDIA_DIR: tmpDir() }),
        });
        assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr.slice(-300)}`);
        assert.match(r.stderr, new RegExp(`${args[0]} must be`), r.stderr.slice(-300));
        assert.ok(!fs.existsSync(sock), 'and no socket is made');
    }
});

// `--help` named 8 of the 20-odd variables every backend reads and none
// of the platform's or a module's own (its provider key among them), and
// a module's failed without a registry to read (run from another folder,
// or NANO_MODULES_FILE not yet right) (found by the config probe).  Every
// name the sources read is checked against the app's --help, so a new
// variable must be listed there.
test('backends: --help works anywhere and names every variable the app reads', () => {
    const src = (dir) => fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.c'))
        .map((f) => fs.readFileSync(path.join(ROOT, dir, f), 'utf8')).join('\n');
    const names = (text) => new Set([...text.matchAll(/(?:getenv|env_int)\(\s*"([A-Z0-9_]+)"/g)].map((m) => m[1]));
    const lib = names(src('backends/lib'));
    lib.delete('JOURNAL_STREAM');                                 // systemd's, not the operator's
    // read only by the platform (the password pool, the packs, the
    // session lifetime) or only by the modules (their runner, in-flight
    // limit, text timeout)
    const platformOnly = ['NANO_BCRYPT_THREADS', 'NANO_BCRYPT_QUEUE', 'NANO_PACKS_FILE', 'NANO_SESSION_MAX_AGE'];
    const moduleOnly = ['NANO_MAX_INFLIGHT_PER_USER', 'NANO_JOBS_MAX', 'NANO_JOBS_BODY_MB',
        'NANO_JOBS_DOWNLOAD_MB', 'NANO_JOBS_DRAIN_SECS', 'NANO_TEXT_WHOLE_TIMEOUT_MS'];
    for (const n of [...platformOnly, ...moduleOnly]) assert.ok(lib.delete(n), `${n} is read in backends/lib`);
    const common = [...lib];
    for (const n of ['NEXTAUTH_URL', 'NANO_SECRET_FILE', 'NEXTAUTH_SECRET', 'NANO_ORIGINS', 'NANO_DB_TIMEOUT_MS',
        'NANO_WORKERS', 'NANO_MAX_STREAMS', 'NANO_SIGNUP_CREDITS', 'NANO_MEDIA_SWEEP_SECS']) {
        assert.ok(common.includes(n), `${n} found in the sources`);
    }
    const platform = [...names(src('backends/platform')), ...platformOnly,
        ...['GOOGLE', 'GITHUB'].flatMap((p) => [`${p}_CLIENT_ID`, `${p}_CLIENT_SECRET`]),
        'GOOGLE_ISSUER', 'GITHUB_BASE_URL', 'GITHUB_API_URL'];
    const provider = { 'nano-banana': 'GEMINI', seedream: 'ARK', qwen: 'DASHSCOPE', grok: 'XAI', openai: 'OPENAI', 'wan-2.5': 'DASHSCOPE' };
    const cwd = tmpDir();                                         // no modules.conf here
    for (const app of APPS) {
        const own = app === 'platform' ? platform
            : [...moduleOnly, `${provider[app]}_API_KEY`, `${provider[app]}_BASE_URL`];
        const r = spawnSync(path.join(BIN, `nano-${app}`), ['--help'], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL', cwd, env: { PATH: process.env.PATH },
        });
        assert.equal(r.status, 0, `${app} --help: ${r.stderr}`);
        assert.match(r.stdout, /^usage: /, app);
        const words = new Set(r.stdout.match(/[A-Z][A-Z0-9_]+/g));
        for (const n of [...common, ...own]) assert.ok(words.has(n), `${app} --help names ${n}:\n${r.stdout}`);
        if (app !== 'platform') {
            for (const n of ['STRIPE_SECRET_KEY', 'NANO_REVOCATION_FILE']) assert.ok(!words.has(n), `${app}: not ${n}`);
        }
    }
    // the help an operator reaches for when a setting is wrong: NANO_WORKERS
    // was read before the options, so a bad one made --help exit 2
    // (noticed by the config probe); --workers also wins over it now
    for (const args of [['--help'], ['--workers', '2', '--help']]) {
        const r = spawnSync(path.join(BIN, 'nano-platform'), args, {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL', env: { PATH: process.env.PATH, NANO_WORKERS: 'abc' },
        });
        assert.equal(r.status, 0, `${args.join(' ')} with a bad NANO_WORKERS: ${r.stderr}`);
        assert.match(r.stdout, /^usage: /);
    }
});

// A backend's numeric settings are read once at start; a bad one stops it
// with the setting named, rather than becoming a default (or, through
// atoi, a limit of 1 from "1O") in silence.
test('backends: a backend with a bad setting stops at start, naming it', () => {
    const media = fs.mkdtempSync(path.join(tmpRoot, 'media-'));
    const bad = [
        ['nano-banana', 'NANO_JOBS_MAX', 'abc'],
        ['nano-banana', 'NANO_JOBS_MAX', '-1'],
        ['nano-banana', 'NANO_MAX_INFLIGHT_PER_USER', '0'],
        ['qwen', 'NANO_MAX_INFLIGHT_PER_USER', '1O'],
        ['nano-banana', 'NANO_MEDIA_SWEEP_GRACE_SECS', '5'],
        ['wan-2.5', 'NANO_MEDIA_SWEEP_SECS', 'soon'],
        ['nano-banana', 'NANO_MEDIA_SWEEP_SECS', '-1'],
        // every process that opens accounts: the platform at sign-up, a
        // module at a V1 user's first use
        ['platform', 'NANO_SIGNUP_CREDITS', 'lots'],
        ['platform', 'NANO_SIGNUP_CREDITS', '-1'],
        ['nano-banana', 'NANO_SIGNUP_CREDITS', '1000000001'],
        ['qwen', 'NANO_SIGNUP_CREDITS', '50 '],
        ['wan-2.5', 'NANO_SIGNUP_CREDITS', '0x10'],
        // plain digits only, as the trailing blank above: strtol took a
        // leading blank or sign (found by an earlier probe)
        ['qwen', 'NANO_SIGNUP_CREDITS', ' 50'],
        ['platform', 'NANO_SIGNUP_CREDITS', '+50'],
        ['nano-banana', 'NANO_JOBS_MAX', '\t4'],
        ['platform', 'NANO_WORKERS', '+4'],
        ['platform', 'NANO_DB_TIMEOUT_MS', ' 5000'],
        ['qwen', 'NANO_MAX_INFLIGHT_PER_USER', '-0'],
        // the password pool's: they were read at the first sign-in, and a
        // bad one became the default with a warning
        ['platform', 'NANO_BCRYPT_THREADS', '0'],
        ['platform', 'NANO_BCRYPT_THREADS', '65'],
        ['platform', 'NANO_BCRYPT_THREADS', 'four'],
        ['platform', 'NANO_BCRYPT_QUEUE', '8k'],
        ['platform', 'NANO_BCRYPT_QUEUE', '99999999999999999999'],
        // the session lifetime may only shorten the 30 days everything
        // else keeps state for, and not below five minutes
        ['platform', 'NANO_SESSION_MAX_AGE', '2592001'],
        ['platform', 'NANO_SESSION_MAX_AGE', '299'],
        ['platform', 'NANO_SESSION_MAX_AGE', '0'],
        ['platform', 'NANO_SESSION_MAX_AGE', '1h'],
        ['platform', 'NANO_SESSION_MAX_AGE', '3600 '],
        ['platform', 'NANO_SESSION_MAX_AGE', '-3600'],
    ];
    for (const [app, name, value] of bad) {
        const sock = path.join(tmpRoot, `bad-${app}.sock`);
        const r = spawnSync(path.join(BIN, `nano-${app}`), ['--listen', `unix:${sock}`], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL',
            env: backendEnv({ NANO_MEDIA_DIR: media, [name]: value }),
        });
        assert.equal(r.signal, null, `${app} ${name}=${value}: it did not stop by itself`);
        assert.notEqual(r.status, 0, `${app} ${name}=${value} is refused: ${r.stderr.slice(-300)}`);
        assert.ok(r.stderr.includes(`${name} must be a number`), `${app}: the log names ${name}: ${r.stderr.slice(-300)}`);
        assert.ok(!fs.existsSync(sock), 'and no socket is left');
    }
});

// NANO_ROOT is where an app's page templates are read from, at each
// page: a wrong one (a typo, or unset with another working directory)
// let the platform and the modules start and answer every page 500
// "page template unavailable".  They stop at start, naming it.
test('backends: a NANO_ROOT without the app\'s pages stops it at start, naming it', () => {
    const media = fs.mkdtempSync(path.join(tmpRoot, 'media-'));
    const elsewhere = fs.mkdtempSync(path.join(tmpRoot, 'root-'));
    const sock = path.join(tmpRoot, 'root.sock');
    for (const app of ['platform', 'qwen', 'nano-banana', 'wan-2.5']) {
        for (const root of ['/nonexistent/nano', elsewhere, null]) {
            const env = backendEnv({ NANO_MEDIA_DIR: media, NANO_MODULES_FILE: path.join(ROOT, 'modules.conf') });
            if (root === null) delete env.NANO_ROOT;    // the working directory, elsewhere
            else env.NANO_ROOT = root;
            const r = spawnSync(path.join(BIN, `nano-${app}`), ['--listen', `unix:${sock}`], {
                encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL', cwd: elsewhere, env,
            });
            const what = `${app} NANO_ROOT=${root}`;
            assert.equal(r.signal, null, `${what}: it did not stop by itself`);
            assert.equal(r.status, 1, `${what} is refused: ${r.stderr.slice(-300)}`);
            assert.match(r.stderr, new RegExp(`error: NANO_ROOT "${root ?? elsewhere}": cannot read backends/${app}/public/`),
                `${what}: ${r.stderr.slice(-300)}`);
            assert.ok(!fs.existsSync(sock), 'and no socket is left');
        }
    }
});

// The platform writes the revocation snapshot the gateways read next to
// NANO_REVOCATION_FILE and renames it over it.  A folder that is not
// there (a typo) let the platform start and log an error at each write,
// while no gateway ever learnt of a sign-out until the tokens expired;
// so did the folder itself named as the file (found by the config probe).
test('backends: the platform stops at start when NANO_REVOCATION_FILE\'s folder cannot take the snapshot', async () => {
    const media = fs.mkdtempSync(path.join(tmpRoot, 'media-'));
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'rev-'));
    const notDir = path.join(dir, 'a-file');
    fs.writeFileSync(notDir, '');
    const sock = path.join(tmpRoot, 'rev.sock');
    // never connected to: the check comes first
    const env = { NANO_MEDIA_DIR: media, DATABASE_URL: 'postgresql://nano@127.0.0.1:1/nano' };
    for (const file of [path.join(dir, 'missing/revocations'), path.join(notDir, 'revocations')]) {
        const r = spawnSync(path.join(BIN, 'nano-platform'), ['--listen', `unix:${sock}`], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL',
            env: backendEnv({ ...env, NANO_REVOCATION_FILE: file }),
        });
        assert.equal(r.signal, null, `${file}: it did not stop by itself`);
        assert.equal(r.status, 1, `${file} is refused: ${r.stderr.slice(-300)}`);
        assert.ok(r.stderr.includes(`error: NANO_REVOCATION_FILE ${file}: cannot write in ${path.dirname(file)}: `),
            r.stderr.slice(-300));
        assert.ok(!fs.existsSync(sock), 'and no socket is left');
    }
    // the folder itself, with or without its slash: the snapshot cannot
    // be renamed over a folder, so every write failed, as above
    for (const file of [dir, `${dir}/`]) {
        const r = spawnSync(path.join(BIN, 'nano-platform'), ['--listen', `unix:${sock}`], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL',
            env: backendEnv({ ...env, NANO_REVOCATION_FILE: file }),
        });
        assert.equal(r.signal, null, `${file}: it did not stop by itself`);
        assert.equal(r.status, 1, `${file} is refused: ${r.stderr.slice(-300)}`);
        assert.ok(r.stderr.includes(`error: NANO_REVOCATION_FILE ${file} is a folder: name the file in it`),
            r.stderr.slice(-300));
        assert.ok(!fs.existsSync(sock), 'and no socket is left');
    }
    // a folder that is there: it serves
    const p = start('platform', ['--listen', `unix:${sock}`],
        { env: { ...env, NANO_REVOCATION_FILE: path.join(dir, 'revocations') } });
    for (const end = Date.now() + TIMEOUT; !fs.existsSync(sock) && p.child.exitCode === null && Date.now() < end;) {
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(fs.existsSync(sock), p.stderr.slice(-300));
    const r = await p.stop();
    assert.match(r.stderr, /revocations: publishing to /);
});

// NANO_MEDIA_DIR must be the modules' folder: the platform stores the
// avatars there and removes a deleted account's files from there.  One
// that is no folder (a typo) was taken silently (noticed by the admin
// probe); it is a warning, as a folder may be made after the start.
test('backends: the platform warns at start when NANO_MEDIA_DIR is not a folder, and not when it is', async () => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'media-warn-'));
    const sock = path.join(tmpRoot, 'media-warn.sock');
    const env = { DATABASE_URL: 'postgresql://nano@127.0.0.1:1/nano', NANO_REVOCATION_FILE: path.join(dir, 'revocations') };
    for (const [media, warned] of [[path.join(dir, 'missing'), true], [dir, false]]) {
        const p = start('platform', ['--listen', `unix:${sock}`], { env: { ...env, NANO_MEDIA_DIR: media } });
        for (const end = Date.now() + TIMEOUT; !fs.existsSync(sock) && p.child.exitCode === null && Date.now() < end;) {
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.ok(fs.existsSync(sock), p.stderr.slice(-300));
        const r = await p.stop();
        const line = `warn: NANO_MEDIA_DIR ${media} is not a folder`;
        assert.equal(r.stderr.includes(line), warned, `${media}: ${r.stderr.slice(-400)}`);
    }
});

// A module with its provider's key set went online whatever the key and
// <P>_BASE_URL held: a base without its scheme (copied as a host name), a
// trailing blank, a query, or a key with a newline in it made every
// generation fail, refunded, while the module said it was online.  The
// platform refuses its GITHUB_BASE_URL and STRIPE_API_BASE so already.
test('backends: a module whose provider key or base URL cannot make a request stops at start, naming it', async () => {
    const media = fs.mkdtempSync(path.join(tmpRoot, 'media-'));
    const sock = path.join(tmpRoot, 'provider-env.sock');
    const run = (app, env) => spawnSync(path.join(BIN, `nano-${app}`), ['--listen', `unix:${sock}`], {
        encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL',
        env: backendEnv({ NANO_MEDIA_DIR: media, ...env }),
    });
    for (const [app, env, named] of [
        ['nano-banana', { GEMINI_API_KEY: 'k', GEMINI_BASE_URL: 'generativelanguage.googleapis.com' }, 'GEMINI_BASE_URL'],
        ['seedream', { ARK_API_KEY: 'k', ARK_BASE_URL: 'ftp://ark.example' }, 'ARK_BASE_URL'],
        ['qwen', { DASHSCOPE_API_KEY: 'k', DASHSCOPE_BASE_URL: 'https://dashscope.aliyuncs.com ' }, 'DASHSCOPE_BASE_URL'],
        ['qwen', { DASHSCOPE_API_KEY: 'k', DASHSCOPE_BASE_URL: 'https://dashscope.aliyuncs.com/api/v1\n' }, 'DASHSCOPE_BASE_URL'],
        ['grok', { XAI_API_KEY: 'k', XAI_BASE_URL: 'https://api.x.ai/v1?beta=1' }, 'XAI_BASE_URL'],
        ['openai', { OPENAI_API_KEY: 'sk-test\n' }, 'OPENAI_API_KEY'],
        ['openai', { OPENAI_API_KEY: 'x'.repeat(2000) }, 'OPENAI_API_KEY'],
        ['openai', { OPENAI_API_KEY: 'sk-test ' }, 'OPENAI_API_KEY'],
        ['nano-banana', { GEMINI_API_KEY: 'AIza key' }, 'GEMINI_API_KEY'],
        // a user and password in it are refused, and never logged
        ['grok', { XAI_API_KEY: 'k', XAI_BASE_URL: 'https://u:s3cret@proxy.example/v1' }, 'XAI_BASE_URL'],
        ['wan-2.5', { DASHSCOPE_API_KEY: 'k', DASHSCOPE_BASE_URL: 'http://' }, 'DASHSCOPE_BASE_URL'],
    ]) {
        const r = run(app, env);
        const what = `${app} ${JSON.stringify(env).slice(0, 120)}`;
        assert.equal(r.signal, null, `${what}: it did not stop by itself`);
        assert.equal(r.status, 1, `${what} is refused: ${r.stderr.slice(-300)}`);
        assert.match(r.stderr, new RegExp(`error: ${named} `), `${what}: the log names ${named}: ${r.stderr.slice(-300)}`);
        assert.ok(!r.stderr.includes('x'.repeat(300)), 'a key is never logged');
        assert.ok(!r.stderr.includes('s3cret'), `nor a password: ${r.stderr.slice(-300)}`);
        assert.ok(!fs.existsSync(sock), 'and no socket is left');
    }
    // what still starts: a usable base (with a root the client drops, on
    // loopback http), and any base of a module without its key (offline)
    for (const [app, env, says] of [
        ['qwen', { DASHSCOPE_API_KEY: 'k', DASHSCOPE_BASE_URL: 'http://127.0.0.1:9/compatible-mode/v1/' }, /text from dashscope/],
        ['grok', { XAI_API_KEY: 'k', XAI_BASE_URL: 'https://api.x.ai/v1' }, /text from xai/],
        ['nano-banana', { GEMINI_API_KEY: '', GEMINI_BASE_URL: 'not a url' }, /serving nano-banana/],
    ]) {
        const p = start(app, ['--listen', `unix:${sock}`], { env: { NANO_MEDIA_DIR: media, ...env } });
        for (const end = Date.now() + TIMEOUT; !fs.existsSync(sock) && p.child.exitCode === null && Date.now() < end;) {
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.ok(fs.existsSync(sock), `${app} ${JSON.stringify(env)} serves: ${p.stderr.slice(-300)}`);
        const r = await p.stop();
        assert.match(r.stderr, says);
        fs.rmSync(sock, { force: true });
    }
});

// The registry says a module's kind, its binary has the providers of one
// kind: a kind edited in modules.conf (seedream as text, qwen as image)
// was a segfault at start, over and over under make run's restarts.
test('backends: a module whose registry kind its binary has no provider for stops at start, naming both', () => {
    const media = fs.mkdtempSync(path.join(tmpRoot, 'media-'));
    const conf = fs.readFileSync(path.join(ROOT, 'modules.conf'), 'utf8');
    for (const [app, kind, built] of [['seedream', 'text', 'image or video'], ['qwen', 'image', 'text'],
        ['openai', 'video', 'text']]) {
        const file = path.join(tmpRoot, `kind-${app}.conf`);
        fs.writeFileSync(file, conf.split('\n').map((l) => (l.split(/\s+/)[0] === app
            ? l.replace(/^(\S+\s+)\S+/, `$1${kind}`) : l)).join('\n'));
        const sock = path.join(tmpRoot, `kind-${app}.sock`);
        const r = spawnSync(path.join(BIN, `nano-${app}`), ['--listen', `unix:${sock}`], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL',
            env: backendEnv({ NANO_MEDIA_DIR: media, NANO_MODULES_FILE: file }),
        });
        assert.equal(r.signal, null, `${app} as ${kind}: it did not stop by itself: ${r.stderr.slice(-300)}`);
        assert.equal(r.status, 1, `${app} as ${kind}: ${r.stderr.slice(-300)}`);
        assert.ok(r.stderr.includes(`${app}: the module registry says ${kind}, and this app generates ${built}`),
            r.stderr.slice(-300));
        assert.ok(!fs.existsSync(sock), 'and no socket is left');
    }
});

// A NANO_MODULES_FILE that names no file (a typo, a file removed) let the
// platform start with a warning and a header and dashboard that listed
// no module, while every module refused it; as a NANO_PACKS_FILE that is
// not there, it stops the platform too (found by the config probe).
test('backends: a NANO_MODULES_FILE that is not there stops the platform and a module at start, naming it', () => {
    const media = fs.mkdtempSync(path.join(tmpRoot, 'media-'));
    const missing = path.join(tmpRoot, 'no-such-modules.conf');
    for (const app of ['platform', 'qwen']) {
        const sock = path.join(tmpRoot, `registry-${app}.sock`);
        const r = spawnSync(path.join(BIN, `nano-${app}`), ['--listen', `unix:${sock}`], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL',
            env: backendEnv({ NANO_MEDIA_DIR: media, NANO_MODULES_FILE: missing }),
        });
        assert.equal(r.signal, null, `${app}: it did not stop by itself: ${r.stderr.slice(-300)}`);
        assert.equal(r.status, 1, `${app}: ${r.stderr.slice(-300)}`);
        assert.ok(r.stderr.includes(`cannot open the module registry ${missing} (NANO_MODULES_FILE): No such file`),
            r.stderr.slice(-300));
        assert.ok(!fs.existsSync(sock), 'and no socket is left');
    }
});

// NANO_COOKIE_DOMAIN=co.uk (two labels, covering NEXTAUTH_URL's host)
// started the platform, and browsers refuse a cookie for a public
// suffix, so every sign-in came back signed out and nothing said why
// (found by the authedges probe).  The platform stops, naming it, by
// Debian's Public Suffix List (the publicsuffix package, in make deps);
// the shorter refusals (one label, not covering the host) are test_site's.
test('backends: a NANO_COOKIE_DOMAIN that is a public suffix stops the platform at start, naming it', (t) => {
    if (!fs.existsSync('/usr/share/publicsuffix/public_suffix_list.dat')) {
        t.skip('no /usr/share/publicsuffix/public_suffix_list.dat (make deps installs publicsuffix)');
        return;
    }
    const media = fs.mkdtempSync(path.join(tmpRoot, 'media-'));
    for (const [url, origins, domain] of [
        ['https://app.example.co.uk', 'https://seedream.example.co.uk', 'co.uk'],
        ['https://me.github.io', 'https://seedream.me.github.io', 'github.io'],
        ['https://app.example.co.uk', '', '.CO.UK'],
    ]) {
        const sock = path.join(tmpRoot, 'psl-platform.sock');
        const r = spawnSync(path.join(BIN, 'nano-platform'), ['--listen', `unix:${sock}`], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL',
            env: backendEnv({
                NANO_MEDIA_DIR: media, NEXTAUTH_URL: url, NANO_ORIGINS: origins, NANO_COOKIE_DOMAIN: domain,
            }),
        });
        assert.equal(r.signal, null, `${domain}: it did not stop by itself: ${r.stderr.slice(-300)}`);
        assert.equal(r.status, 1, `${domain}: ${r.stderr.slice(-300)}`);
        assert.ok(r.stderr.includes(`NANO_COOKIE_DOMAIN "${domain.replace(/^\./, '').toLowerCase()}" is a public suffix`),
            r.stderr.slice(-300));
        assert.ok(!fs.existsSync(sock), 'and no socket is left');
    }
});

// A relative NANO_MEDIA_DIR was taken: the backends wrote under their own
// working directory while nginx's $nano_media_dir read from its own, so
// every output was a 404 (noticed by the config probe; make run refuses
// one too).
test('backends: a relative NANO_MEDIA_DIR stops the platform and a module at start, naming it', () => {
    const cwd = fs.mkdtempSync(path.join(tmpRoot, 'relative-media-'));
    for (const app of ['platform', 'nano-banana']) {
        const sock = path.join(cwd, `${app}.sock`);
        const r = spawnSync(path.join(BIN, `nano-${app}`), ['--listen', `unix:${sock}`], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL', cwd,
            env: backendEnv({ NANO_MEDIA_DIR: 'media' }),
        });
        assert.equal(r.signal, null, `${app}: it did not stop by itself: ${r.stderr.slice(-300)}`);
        assert.equal(r.status, 1, `${app}: ${r.stderr.slice(-300)}`);
        assert.match(r.stderr, /error: NANO_MEDIA_DIR must be an absolute path \(not "media"\)/, r.stderr.slice(-300));
        assert.ok(!fs.existsSync(sock), 'and no socket is left');
        assert.ok(!fs.existsSync(path.join(cwd, 'media')), 'and nothing made there');
    }
});

// STRIPE_API_BASE was taken when it began with http(s)://: "https://"
// without a host started the platform with purchases on and every
// checkout failing, and Stripe's own "https://api.stripe.com/v1" (the
// root its API reference shows) sent each checkout to /v1/v1/, a 404.
// A base without a host stops the platform, naming it; the /v1 root is
// dropped, as the module providers' roots are (found by the config probe).
test('backends: a STRIPE_API_BASE without a host stops the platform; its /v1 root is dropped', async () => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'stripe-'));
    const packs = path.join(dir, 'packs.conf');
    fs.writeFileSync(packs, 'small 100 499 usd 100 credits\n');
    const sock = path.join(dir, 'p.sock');
    const env = { NANO_MEDIA_DIR: dir, NANO_PACKS_FILE: packs, STRIPE_SECRET_KEY: 'sk_test_config',
        STRIPE_WEBHOOK_SECRET: 'whsec_config' };
    for (const base of ['https://', 'http:///v1', 'https://:443']) {
        const r = spawnSync(path.join(BIN, 'nano-platform'), ['--listen', `unix:${sock}`], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL',
            env: backendEnv({ ...env, STRIPE_API_BASE: base }),
        });
        assert.equal(r.signal, null, `${base}: it did not stop by itself: ${r.stderr.slice(-300)}`);
        assert.equal(r.status, 1, `${base} is refused: ${r.stderr.slice(-300)}`);
        assert.match(r.stderr, /error: STRIPE_API_BASE must be an http\(s\) URL/, r.stderr.slice(-300));
        assert.ok(!r.stderr.includes('sk_test_config'), 'the key is never logged');
        assert.ok(!fs.existsSync(sock), 'and no socket is left');
    }
    for (const [base, used] of [['https://api.stripe.com/v1', 'https://api.stripe.com'],
        ['https://api.stripe.com/v1/', 'https://api.stripe.com'],
        ['http://127.0.0.1:9/stripe/', 'http://127.0.0.1:9/stripe']]) {
        const p = start('platform', ['--listen', `unix:${sock}`], { env: { ...env, STRIPE_API_BASE: base } });
        try {
            assert.ok(await connects({ path: sock }), `${base}: nothing accepted: ${p.stderr.slice(-300)}`);
        } finally {
            const r = await p.stop();
            assert.equal(r.code, 0, r.stderr.slice(-300));
        }
        assert.ok(p.stderr.includes(`billing: purchases on, Stripe API ${used}\n`), `${base}: ${p.stderr.slice(-400)}`);
    }
});

// A DATABASE_URL that is set and cannot be a database URL (a typo: no
// scheme, another database's scheme, an unclosed IPv6 bracket) let every
// backend start, log the error once and answer each request needing the
// database 503, all under a supervisor that saw it running.  It stops the
// backend at start, naming it, its password never shown (found by the
// config probe).  Unset, it still starts (make run's tests, a tool).
test('backends: a DATABASE_URL that is no database URL stops a backend at start, naming it, its password masked', () => {
    const media = fs.mkdtempSync(path.join(tmpRoot, 'media-'));
    for (const [app, url] of [['platform', 'localhost:5432/nano'], ['qwen', 'mysql://nano:s3cret-pw@db/nano'],
        ['nano-banana', 'postgresql://nano:s3cret-pw@[::1/nano'], ['wan-2.5', 'postgresql://nano:s3cret-pw@h/db?schema=%zz']]) {
        const sock = path.join(tmpRoot, `dburl-${app}.sock`);
        const r = spawnSync(path.join(BIN, `nano-${app}`), ['--listen', `unix:${sock}`], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL',
            env: backendEnv({ NANO_MEDIA_DIR: media, DATABASE_URL: url }),
        });
        assert.equal(r.signal, null, `${app} ${url}: it did not stop by itself: ${r.stderr.slice(-300)}`);
        assert.equal(r.status, 1, `${app} ${url}: ${r.stderr.slice(-300)}`);
        assert.match(r.stderr, /error: DATABASE_URL (must|is not|has)/, r.stderr.slice(-300));
        assert.ok(!r.stderr.includes('s3cret'), `the password is never shown: ${r.stderr.slice(-300)}`);
        assert.ok(!fs.existsSync(sock), 'and no socket is left');
    }
});

// The platform with env: it stops at once (exit 1), naming the variable
// named as holding a blank (or a space) or a control character, never its
// value (each holds "s3cret"), and leaves no socket.
function assertPlatformRefusesSecret(dir, env, named, blank) {
    const sock = path.join(dir, 'p.sock');
    const r = spawnSync(path.join(BIN, 'nano-platform'), ['--listen', `unix:${sock}`], {
        encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL',
        env: backendEnv({ NANO_MEDIA_DIR: dir, ...env }),
    });
    const what = JSON.stringify(env);
    assert.equal(r.signal, null, `${what}: it did not stop by itself: ${r.stderr.slice(-300)}`);
    assert.equal(r.status, 1, `${what} is refused: ${r.stderr.slice(-300)}`);
    assert.match(r.stderr, new RegExp(`error: ${named} holds a ${blank} or a control character`), r.stderr.slice(-300));
    assert.ok(!r.stderr.includes('s3cret'), `the value is never shown: ${r.stderr.slice(-300)}`);
    assert.ok(!fs.existsSync(sock), 'and no socket is left');
}

// An OAuth client id or secret with a blank or a control character in it
// (a newline or CR carried over from a copy, a blank inside) was taken:
// the platform said "GitHub sign-in is configured", and every sign-in
// with it failed at the provider's token endpoint.  The module keys and
// Stripe's are refused so already; these stop the platform at start,
// naming the variable and never its value (found by the config probe).
test('backends: an OAuth client id or secret with a blank or control character stops the platform, naming it', () => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'oauth-env-'));
    const file = path.join(dir, 'secret');
    fs.writeFileSync(file, 'gh-s3cret-value \n');
    for (const [env, named] of [
        [{ GITHUB_CLIENT_ID: 'Iv1.s3cretid\n', GITHUB_CLIENT_SECRET: 'gh-s3cret' }, 'GITHUB_CLIENT_ID'],
        [{ GITHUB_CLIENT_ID: 'Iv1.abc', GITHUB_CLIENT_SECRET: 'gh-s3cret\r' }, 'GITHUB_CLIENT_SECRET'],
        [{ GOOGLE_CLIENT_ID: 'id.apps', GOOGLE_CLIENT_SECRET: 'GOCSPX s3cret' }, 'GOOGLE_CLIENT_SECRET'],
        [{ GITHUB_CLIENT_ID: 'Iv1.abc', GITHUB_CLIENT_SECRET_FILE: file }, 'GITHUB_CLIENT_SECRET_FILE'],
    ]) {
        assertPlatformRefusesSecret(dir, env, named, 'blank');
    }
});

// Stripe's key and webhook secret are refused the same way, by the same
// check (nano_config_plain): "Bearer sk_test_1 " failed every call.
test('backends: a Stripe key or webhook secret with a blank or control character stops the platform, naming it', () => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'stripe-env-'));
    for (const [env, named] of [
        [{ STRIPE_SECRET_KEY: 'sk_test_s3cret ', STRIPE_WEBHOOK_SECRET: 'whsec_1' }, 'STRIPE_SECRET_KEY'],
        [{ STRIPE_SECRET_KEY: 'sk_test_1', STRIPE_WEBHOOK_SECRET: 'whsec_s3cret\n' }, 'STRIPE_WEBHOOK_SECRET'],
    ]) {
        assertPlatformRefusesSecret(dir, env, named, 'space');
    }
});

// A *_FILE naming a folder opened, read nothing, and was reported as "the
// file it names is empty" (noticed by the config probe); it says why now.
test('backends: an OAuth secret file that is a folder or missing is refused with the reason', () => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'oauth-file-'));
    const sock = path.join(dir, 'p.sock');
    for (const [file, why] of [[dir, /Is a directory/], [path.join(dir, 'none'), /No such file or directory/]]) {
        const r = spawnSync(path.join(BIN, 'nano-platform'), ['--listen', `unix:${sock}`], {
            encoding: 'utf8', timeout: TIMEOUT, killSignal: 'SIGKILL',
            env: backendEnv({ NANO_MEDIA_DIR: dir, GITHUB_CLIENT_ID: 'Iv1.abc', GITHUB_CLIENT_SECRET_FILE: file }),
        });
        assert.equal(r.status, 1, `${file}: ${r.stderr.slice(-300)}`);
        assert.match(r.stderr, /error: GITHUB_CLIENT_SECRET_FILE: cannot read the file it names: /, r.stderr.slice(-300));
        assert.match(r.stderr, why, r.stderr.slice(-300));
        assert.ok(!fs.existsSync(sock), 'and no socket is left');
    }
});

// The ends of NANO_SIGNUP_CREDITS's range are taken: 0 (accounts open
// empty) and 1,000,000,000; the grant itself is credits.test.mjs's.
test('backends: NANO_SIGNUP_CREDITS of 0 or 1000000000 is taken: the backend serves and stops on TERM', async () => {
    for (const app of ['platform', 'nano-banana', 'qwen']) {
        for (const value of ['0', '1000000000']) {
            const sock = path.join(tmpDir(), 'x.sock');
            const p = start(app, ['--listen', `unix:${sock}`], {
                env: { NANO_MEDIA_DIR: tmpDir(), NANO_SIGNUP_CREDITS: value },
            });
            try {
                assert.ok(await connects({ path: sock }), `${app} NANO_SIGNUP_CREDITS=${value}: nothing accepted: ${p.stderr.slice(-300)}`);
            } finally {
                const r = await p.stop();
                assert.equal(r.hung, false, `${app} stops on TERM`);
                assert.equal(r.code, 0, r.stderr.slice(-300));
            }
            assert.ok(!p.stderr.includes('NANO_SIGNUP_CREDITS'), `${app}: nothing said about it: ${p.stderr.slice(-300)}`);
        }
    }
});

// --- make module -----------------------------------------------------------

// A running nginx maps the module's .so: writing the new build into that
// same file (cp truncates and rewrites it) made its workers die of
// SIGSEGV on their next request and its master on the next reload, when
// `make` ran beside `make run`.  The new build must be renamed over it,
// leaving the mapped file as it was.  A stub nginx tree stands in for
// nginx-dev: its configure writes a Makefile whose `modules` target makes
// the .so.
test('make module: build-module.sh renames the new .so over the old one, never writing into it', () => {
    const dir = tmpDir();
    const src = path.join(dir, 'nginx-src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'configure'), [
        '#!/bin/sh',
        'for a; do case $a in --builddir=*) b=${a#--builddir=} ;; esac; done',
        'mkdir -p "$b"',
        'printf \'modules:\\n\\techo new-build > %s/ngx_http_nano_auth_module.so\\n\' "$b" > "$b/Makefile"',
        '',
    ].join('\n'), { mode: 0o755 });
    const out = path.join(dir, 'modules', 'ngx_http_nano_auth_module.so');
    fs.mkdirSync(path.dirname(out));
    fs.writeFileSync(out, 'old-build\n');
    // a second name for the old file: what a running nginx holds mapped
    const mapped = path.join(dir, 'mapped.so');
    fs.linkSync(out, mapped);
    const r = spawnSync(path.join(ROOT, 'scripts/build-module.sh'), [src, path.join(dir, 'build'), out],
        { cwd: ROOT, encoding: 'utf8', timeout: 20000, killSignal: 'SIGKILL' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(out, 'utf8'), 'new-build\n', 'the new build is in place');
    assert.equal(fs.readFileSync(mapped, 'utf8'), 'old-build\n', 'the old file was not written into');
    assert.notEqual(fs.statSync(out).ino, fs.statSync(mapped).ino, 'a new file, renamed over the old name');
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ['ngx_http_nano_auth_module.so'], 'no temporary file left');
});

// --- make run ---------------------------------------------------------------

// scripts/run.sh with env (nothing of this process's own, so not the
// make test it may run under): {status, signal, stderr}.  DATABASE_URL
// names a server that is not there, so a run that took a bad value
// would stop at the migration plan rather than start a stack.
function runSh(env) {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/run.sh')], {
        encoding: 'utf8', timeout: 20000, killSignal: 'SIGKILL',
        env: {
            PATH: process.env.PATH, HOME: process.env.HOME || '/root',
            DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none', ...env,
        },
    });
    return { status: r.status, signal: r.signal, stderr: r.stderr || '' };
}

// run.sh with name=value for each value: exit 1 at once, naming it, before
// a stack, a migration plan or anything is started.
function assertRunRefuses(name, values, must = 'must be ') {
    for (const value of values) {
        const r = runSh({ [name]: value });
        const what = `${name}=${value}`;
        assert.equal(r.signal, null, `${what}: it did not stop by itself`);
        assert.equal(r.status, 1, `${what}: ${r.stderr.slice(-300)}`);
        assert.match(r.stderr, new RegExp(`^run: ${name} ${must}`, 'm'), `${what} is named: ${r.stderr.slice(-300)}`);
        assert.doesNotMatch(r.stderr, /another stack|migration|starting|stopping/,
            `${what}: refused before anything else: ${r.stderr.slice(-300)}`);
    }
}

// NANO_READ_TIMEOUT is nginx's fastcgi_read_timeout and, five sixths of
// it, the modules' NANO_TEXT_WHOLE_TIMEOUT_MS: a value outside "N, Ns or
// Nm" became a whole-answer limit of 50 s in silence (1h, 500ms: nginx
// took them), and one under 2 s was refused by every module as a bad
// NANO_TEXT_WHOLE_TIMEOUT_MS, which the operator never set.
test('make run: a bad NANO_READ_TIMEOUT is refused at once, naming it, before anything starts', () => {
    assertRunRefuses('NANO_READ_TIMEOUT', ['1h', '500ms', 'abc', '90x', '1m30s', '0', '1s', '73m', '4321',
        '99999999999999999999', '-5s', ' 60s', '60s;']);
});

// PORT is nginx's listen port and the one checked free first: 0 and
// 65536 or more got past that check (which looked for another port or
// none) to nginx's own refusal, and a leading zero made the check's
// printf read 08080 as octal, fail, and look at port 0 while nginx took
// 8080.
test('make run: a PORT that is not 1 to 65535 in plain digits is refused at once, naming it', () => {
    assertRunRefuses('PORT', ['0', '65536', '99999', '08080', '123456789012345678901', '80a', '-1']);
});

// A rerun after a make run killed outright stops what that run left, as
// make run stops: nginx first, then the backends (each may drain its
// provider calls, which need the database), then postgres.  It went by
// the pid files' names: postgres was stopped before qwen, seedream and
// wan-2.5, whose drains then could not give their jobs back.
test('make run: what a killed run left stops in the stack\'s order: nginx, the backends, then postgres', () => {
    const state = fs.mkdtempSync(path.join(tmpRoot, 'state-'));
    const order = path.join(state, 'order');
    const script = `
        set -euo pipefail
        STACK_MODE=run STACK_STATE=$1
        . "$2/scripts/lib/stack.sh"
        stack_init
        for n in nginx grok qwen wan-2.5 postgres; do
            # perl: a background bash ignores INT, and cannot trap it
            stack_spawn "$n" "$STACK_STATE/logs/$n.log" perl -e '
                my ($name, $file) = @ARGV;
                $SIG{$_} = sub { open(my $h, ">>", $file); print $h "$name\\n"; exit 0 }
                    for qw(TERM INT);
                select(undef, undef, undef, 0.05) while 1;' "$n" "$3"
        done
        sleep 0.3
        stack_stop_leftovers`;
    const r = spawnSync('bash', ['-c', script, 'leftovers', state, ROOT, order], {
        encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL',
    });
    assert.equal(r.status, 0, r.stderr.slice(-500));
    const got = fs.readFileSync(order, 'utf8').trim().split('\n');
    assert.equal(got.length, 5, `each was stopped once: ${got}`);
    assert.equal(got[0], 'nginx', `nginx first: ${got}`);
    assert.equal(got[4], 'postgres', `postgres last: ${got}`);
    assert.deepEqual(fs.readdirSync(path.join(state, 'pids')), [], 'no pid file is left');
});

// A backend that starts but never listens: stack_backend_start gave up
// after 10 s and left it running.  make run's supervisor then forgot its
// pid file and tried again after the backoff, so every round left one
// more such process, which the final stop no longer knew of.  The one
// that did not start is stopped, and its pid file goes with it.
test('make run: a backend that never listens is stopped when its start gives up, not left behind', () => {
    const state = fs.mkdtempSync(path.join(tmpRoot, 'state-'));
    const bin = fs.mkdtempSync(path.join(tmpRoot, 'bin-'));
    const started = path.join(bin, 'started');
    fs.writeFileSync(path.join(bin, 'nano-qwen'),
        `#!/bin/sh\necho $$ >>${started}\necho "stuck before listening"\nexec sleep 300\n`, { mode: 0o755 });
    const script = `
        set -euo pipefail
        STACK_MODE=run STACK_STATE=$1
        . "$2/scripts/lib/stack.sh"
        stack_init
        STACK_BIN=$3 STACK_LISTEN=unix STACK_URL=http://127.0.0.1:1 STACK_DB_URL=
        STACK_SECRET_FILE=/dev/null
        for round in 1 2; do
            if stack_backend_start qwen; then echo "round $round: started"; exit 1; fi
            rm -f "$STACK_STATE/pids/qwen.pid"      # as run.sh's supervisor does
        done`;
    const r = spawnSync('bash', ['-c', script, 'hung', state, ROOT, bin], {
        encoding: 'utf8', timeout: 90000, killSignal: 'SIGKILL',
    });
    const pids = fs.readFileSync(started, 'utf8').trim().split('\n').map(Number);
    const alive = pids.filter((pid) => {
        try { process.kill(pid, 0); } catch { return false; }
        // a zombie is gone too
        return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    });
    // whatever happens, nothing of this test outlives it
    for (const pid of alive) process.kill(pid, 'SIGKILL');
    assert.equal(r.status, 0, `${r.stdout}${r.stderr.slice(-500)}`);
    assert.equal(pids.length, 2, 'started twice');
    assert.match(r.stderr, /backend qwen is not listening on unix:.*after 10s/);
    assert.match(r.stderr, /stuck before listening/, 'its log is shown');
    assert.deepEqual(alive, [], 'a backend that did not start is left running');
    assert.deepEqual(fs.readdirSync(path.join(state, 'pids')), [], 'no pid file is left');
    assert.deepEqual(fs.readdirSync(path.join(state, 'sock')), [], 'no socket is left');
});

// A backend's stop waits for its drain (NANO_JOBS_DRAIN_SECS, 0 to 600)
// and then its workers' grace; make run's stop sent SIGKILL after 40 s
// whatever the drain it had given the backend, cutting the provider
// calls a longer drain was for.  The wait follows the drain the backend
// was given: its env.d line first, else the stack's environment.
test('make run: a backend\'s stop waits for the drain it was given, plus 15 s, at least 40 s', () => {
    const state = fs.mkdtempSync(path.join(tmpRoot, 'state-'));
    fs.mkdirSync(path.join(state, 'env.d'));
    fs.writeFileSync(path.join(state, 'env.d/qwen'), 'DASHSCOPE_API_KEY=k\nNANO_JOBS_DRAIN_SECS=90\n');
    fs.writeFileSync(path.join(state, 'env.d/grok'), 'XAI_API_KEY=k\n');
    fs.writeFileSync(path.join(state, 'env.d/seedream'), 'NANO_JOBS_DRAIN_SECS=5\n');
    fs.writeFileSync(path.join(state, 'env.d/openai'), 'NANO_JOBS_DRAIN_SECS=lots\n');
    // as the backend reads them: an empty line is its default, not the
    // stack's 300; zeros first are plain digits (0090 is 90)
    fs.writeFileSync(path.join(state, 'env.d/nano-banana'), 'NANO_JOBS_DRAIN_SECS=\n');
    fs.writeFileSync(path.join(state, 'env.d/wan-2.5'), 'NANO_JOBS_DRAIN_SECS=0090\n');
    fs.writeFileSync(path.join(state, 'backend.env'), 'PATH=/usr/bin\0NANO_JOBS_DRAIN_SECS=300\0HOME=/root\0');
    const script = `
        set -euo pipefail
        STACK_MODE=run STACK_STATE=$1
        . "$2/scripts/lib/stack.sh"
        stack_init
        for app in qwen grok seedream openai nano-banana wan-2.5; do echo "$app $(stack_backend_stop_secs "$app")"; done
        rm "$STACK_STATE/backend.env"
        echo "grok-alone $(stack_backend_stop_secs grok)"`;
    const r = spawnSync('bash', ['-c', script, 'drain', state, ROOT], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, r.stderr.slice(-500));
    assert.deepEqual(r.stdout.trim().split('\n'), [
        'qwen 105',         // its own line
        'grok 315',         // the stack's environment
        'seedream 40',      // never less than the default
        'openai 40',        // one the backend refuses at start
        'nano-banana 40',   // its empty line: the backend's 25 s
        'wan-2.5 105',      // 0090: 90
        'grok-alone 40',    // unset: the backend's 25 s
    ]);
});

// NANO_MIGRATE=apply applies the plan to a DATABASE_URL; any other value
// (yes, 1, Apply) only printed it, and the stack started on a database
// the operator meant to migrate.
test('make run: a NANO_MIGRATE other than apply is refused at once, naming it', () => {
    assertRunRefuses('NANO_MIGRATE', ['yes', '1', 'Apply', 'apply ', 'plan']);
});

// A NEXTAUTH_URL that is no http(s) URL (a host name alone, a typo in
// the scheme) was found by the platform only, after make run had made or
// started the database and applied the migrations (found by the config
// probe); it is refused at once, as PORT is.
test('make run: a NEXTAUTH_URL that is no http(s) URL is refused at once, naming it', () => {
    assertRunRefuses('NEXTAUTH_URL', ['localhost:8080', 'htp://localhost:8080', 'https://', 'http:///x', 'ftp://example.com']);
});

// make run put the media in .state/run/media whatever NANO_MEDIA_DIR said,
// in silence; it now takes it (nginx's $nano_media_dir too), and a
// relative one, which nginx and the backends would each read from their
// own folder, is refused at once.
test('make run: a relative NANO_MEDIA_DIR is refused at once, naming it', () => {
    assertRunRefuses('NANO_MEDIA_DIR', ['media', './state/media'], 'must be an absolute path');
});

// make run's supervisor restarts a backend whose pid file names a process
// that is gone, and takes a missing file for a stop on purpose.  stack_kill
// removed the file only after the process had ended (and its session was
// searched), so a stackctl.sh stop-backend under make run was, as often as
// not, taken for a death and undone a second later.  The file must be gone
// whenever the process is.
test('make run: a backend being stopped on purpose never looks dead to the supervisor', () => {
    const state = fs.mkdtempSync(path.join(tmpRoot, 'state-'));
    const script = `
        set -euo pipefail
        STACK_MODE=stackctl STACK_STATE=$1
        . "$2/scripts/lib/stack.sh"
        stack_init
        seen=0
        for round in 1 2 3; do
            stack_spawn qwen "$STACK_STATE/logs/qwen.log" sleep 60
            read -r pid _ <"$STACK_STATE/pids/qwen.pid"
            stack_kill qwen TERM 10 &
            k=$!
            while kill -0 "$k" 2>/dev/null; do
                # what run.sh's loop asks, in the other order so a file
                # seen is one that was there when the process was gone
                if ! stack_starttime "$pid" >/dev/null && [ -e "$STACK_STATE/pids/qwen.pid" ]; then
                    seen=$((seen + 1))
                fi
                sleep 0.005
            done
            wait "$k"
        done
        echo "seen=$seen"`;
    const r = spawnSync('bash', ['-c', script, 'stopping', state, ROOT], {
        encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL',
    });
    assert.equal(r.status, 0, r.stderr.slice(-500));
    assert.match(r.stdout, /^seen=0$/m, `the pid file outlived the process: ${r.stdout}`);
});

// On a machine where nginx's workers must run as root (the checkout
// under /root, which nobody cannot enter), every stackctl.sh call that
// touched a backend's socket said so again: the stack says it where
// nginx starts (stack_nginx_start), once.
test('stack.sh: a backend socket\'s group under workers that run as root says nothing (the root warning is nginx start\'s)', { skip: process.getuid() !== 0 && 'needs root' }, () => {
    const closed = fs.mkdtempSync(path.join(tmpRoot, 'closed-'));
    fs.chmodSync(closed, 0o700);
    const script = `
        set -euo pipefail
        STACK_MODE=stackctl STACK_STATE=$1/state
        . "$2/scripts/lib/stack.sh"
        stack_init
        : >"$STACK_STATE/sock/qwen.sock"
        stack_grant_socket "$STACK_STATE/sock/qwen.sock"
        stack_grant_socket "$STACK_STATE/sock/qwen.sock"
        echo "workers=$STACK_WORKER_USER"`;
    const r = spawnSync('bash', ['-c', script, 'grant', closed, ROOT], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, r.stderr.slice(-500));
    assert.match(r.stdout, /^workers=root$/m, 'the case under test: nobody cannot reach the state dir');
    assert.equal(r.stderr, '', 'nothing said');
});


const alive = (pid) => {
    try {
        process.kill(pid, 0);
    } catch {
        return false;
    }
    return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
};

// make run ends the way a terminal ends it: ^C (SIGINT to its process
// group) while the pipe its output went through is gone, as `make run
// 2>&1 | tee run.log` has it once the same ^C ended tee (closing the
// terminal is the same: SIGHUP, and every write fails).  The supervisor
// died of SIGPIPE at its first line ("got SIGINT"), or under set -e at
// the first failed write, and left PostgreSQL, nginx and every backend
// running.  And while it was up, its loop read each process's stat file
// with cat every second: a ^C that came while it waited for one that
// then exited normally was dropped by bash, and make run went on (one ^C
// in a few by hand); the loop now runs nothing but its sleep.
test('make run: a ^C with its terminal\'s pipe gone stops everything it started; its loop runs nothing but sleep', { skip: !which('strace') && 'strace is not installed', timeout: 120000 }, async () => {
    // a checkout of links (checkout.mjs) whose make run needs no
    // PostgreSQL: DATABASE_URL names a server that is not there
    const root = runCheckout(tmpDir());
    const state = path.join(root, '.state/run');
    const port = await freePort();
    const run = spawn('bash', [path.join(root, 'scripts/run.sh')], {
        detached: true, stdio: ['ignore', 'ignore', 'pipe'],
        env: {
            PATH: process.env.PATH, HOME: process.env.HOME || '/root', PORT: String(port),
            DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none', NEXTAUTH_SECRET: 'a-secret-of-the-run-test-0123456789',
        },
    });
    let said = '';
    run.stderr.on('data', (d) => { said += d; });
    const exited = new Promise((resolve) => run.on('exit', (code, sig) => resolve({ code, sig })));
    let pids = {};
    try {
        const up = await Promise.race([
            (async () => { while (!said.includes('Nano Banana is up')) await sleep(100); return true; })(),
            exited.then(() => false), sleep(60000).then(() => false),
        ]);
        assert.ok(up, `make run came up: ${said.slice(-1500)}`);
        pids = stackPids(state);
        assert.deepEqual(Object.keys(pids).sort(), ['nginx', 'platform', ...MODULES].sort(), JSON.stringify(pids));

        const trace = path.join(root, 'trace');
        const strace = spawn('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', trace, '-p', String(run.pid)]);
        await sleep(3000);
        strace.kill('SIGINT');
        await new Promise((resolve) => strace.on('exit', resolve));
        const ran = [...fs.readFileSync(trace, 'utf8').matchAll(/execve\("([^"]*)"/g)].map((m) => path.basename(m[1]));
        assert.ok(ran.includes('sleep'), `the loop was traced: ${ran}`);
        assert.deepEqual(ran.filter((b) => b !== 'sleep'), [], 'the supervisor\'s loop runs nothing else');

        run.stderr.destroy();
        await sleep(200);
        process.kill(-run.pid, 'SIGINT');
        const end = await Promise.race([exited, sleep(60000).then(() => null)]);
        assert.deepEqual(end, { code: 0, sig: null }, 'it stopped by itself, after its stop');
        const left = Object.entries(pids).filter(([, pid]) => alive(pid));
        assert.deepEqual(left, [], 'nothing it started is left running');
        assert.deepEqual(fs.readdirSync(path.join(state, 'pids')), [], 'no pid file is left');
        assert.deepEqual(fs.readdirSync(path.join(state, 'sock')), [], 'no socket is left');
    } finally {
        for (const pid of [run.pid, ...Object.values(pids)]) {
            try {
                process.kill(-pid, 'SIGKILL');      // each is its own session's leader
            } catch { /* gone */ }
        }
    }
});

// The generated nginx.conf put its paths in bare: a media folder with a
// space in its path (a second disk, "/mnt/Media Disk") or a state folder
// with one made nginx refuse the whole config ("invalid number of
// arguments").  They are quoted now, and what a quoted nginx string cannot
// hold literally ($ starts a variable) is refused by name before nginx runs.
test('make run: the generated nginx config takes state and media folders with spaces, and refuses a $ by name', () => {
    const base = fs.mkdtempSync(path.join(tmpRoot, 'with space-'));
    const script = `
        set -euo pipefail
        STACK_MODE=run STACK_STATE="$1/state dir"
        . "$2/scripts/lib/stack.sh"
        stack_init
        STACK_MEDIA_DIR=$3
        STACK_UPSTREAMS=$STACK_STATE/upstreams.conf
        STACK_SECRET_FILE="$STACK_STATE/key file"
        echo 'k1 ${KEY}' >"$STACK_SECRET_FILE"
        STACK_URL=http://127.0.0.1:9 STACK_PORT=9 STACK_READ_TIMEOUT=60s STACK_LISTEN=unix
        stack_upstreams "$STACK_UPSTREAMS"
        stack_nginx_conf
        "$STACK_NGINX" -t "\${STACK_NGINX_ARGS[@]}"`;
    const run = (media) => spawnSync('bash', ['-c', script, 'spaces', base, ROOT, media], {
        encoding: 'utf8', timeout: 30000, killSignal: 'SIGKILL',
    });
    const media = path.join(base, 'my media');
    let r = run(media);
    assert.equal(r.status, 0, r.stderr.slice(-800));
    assert.match(r.stderr, /test is successful/);
    const conf = fs.readFileSync(path.join(base, 'state dir/nginx/conf/nginx.conf'), 'utf8');
    assert.ok(conf.includes(`default "${media}";`), 'the media folder is one quoted value');

    r = run(path.join(base, 'media$host'));
    assert.notEqual(r.status, 0, 'a $ in the media folder is refused');
    assert.match(r.stderr, /media folder \(STACK_MEDIA_DIR\) .*media\$host: nginx cannot use a path with \$/);
    assert.doesNotMatch(r.stderr, /test is successful/, 'nginx never ran');
});

// A checkout the postgres user cannot enter (/root/src on a fresh machine,
// where make run is run as root): initdb and postgres, started as postgres
// in that working directory, began initdb.log and postgres.log with
// `could not change directory to "/root/src": Permission denied`.  The
// stack starts them from / now.
test('make run: postgres started as its user from a checkout it cannot enter logs no "Permission denied"', { skip: process.getuid() !== 0 && 'needs root (the stack runs postgres as its user only then)' }, (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-locked-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.chmodSync(dir, 0o700);
    const r = spawnSync('bash', ['-c', `. '${ROOT}/scripts/lib/stack.sh' && stack_as_pg "$(stack_pg_bindir)/postgres" --version`],
        { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /PostgreSQL/);
    assert.doesNotMatch(r.stderr, /could not change directory/);
});

// The same checkout's database: the postgres user cannot enter the state
// folder, so the cluster lives elsewhere.  It lived in /tmp/nano-pg-<hash>,
// which Debian 12 empties at boot, so make run's accounts were gone after
// a reboot; make run's cluster now lives in /var/lib/postgresql (the
// postgres user's own), a throwaway test stack's still in /tmp, and a
// remembered /tmp cluster that a boot emptied is placed again.
test('make run: a cluster the state folder cannot hold lives in /var/lib/postgresql, a throwaway one in /tmp', { skip: process.getuid() !== 0 && 'needs root (the cluster moves only when postgres cannot enter the state folder)' }, (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-locked-'));
    const state = path.join(dir, 'state');
    fs.mkdirSync(state);
    fs.chmodSync(dir, 0o700);
    const made = [];
    t.after(() => {
        for (const m of made) fs.rmSync(m, { recursive: true, force: true });
        fs.rmSync(dir, { recursive: true, force: true });
    });
    const locate = (env = {}) => {
        const r = spawnSync('bash', ['-c', `. '${ROOT}/scripts/lib/stack.sh' && STACK_STATE='${state}' && stack_pg_locate && printf %s "$PG_BASE"`],
            { encoding: 'utf8', env: { ...process.env, ...env } });
        assert.equal(r.status, 0, r.stderr);
        if (r.stdout) made.push(r.stdout);
        return { base: r.stdout, said: r.stderr };
    };
    const kept = locate();
    assert.match(kept.base, /^\/var\/lib\/postgresql\/nano-pg-[0-9a-f]{12}$/);
    assert.doesNotMatch(kept.said, /lost when \/tmp is cleared/);
    assert.equal(fs.statSync(path.join(kept.base, 'data')).uid, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout));
    assert.equal(locate().base, kept.base, 'remembered');

    // A throwaway stack (stack_throwaway) keeps /tmp.
    fs.rmSync(path.join(state, 'pg.location'));
    const thrown = locate({ STACK_PG_FALLBACK: '/tmp' });
    assert.match(thrown.base, /^\/tmp\/nano-pg-[0-9a-f]{12}$/);
    assert.match(thrown.said, /lost when \/tmp is cleared/);

    // A make run remembered in /tmp: kept while its cluster is there ...
    fs.writeFileSync(path.join(thrown.base, 'data/PG_VERSION'), '15\n');
    assert.equal(locate().base, thrown.base);
    // ... and placed again once a boot emptied /tmp.
    fs.rmSync(thrown.base, { recursive: true, force: true });
    assert.equal(locate().base, kept.base);
});

// The gateway's nano_auth_max_age is written from the platform's
// NANO_SESSION_MAX_AGE as the platform is given it (stack_session_max_age):
// env.d/platform's line, else the stack's backend.env.  It was read
// otherwise than the platform reads it: "0600", which the platform takes
// as 600 (plain digits), gave the gateway the 30 days, so tokens issued
// before went on there for 30 days; and an empty env.d line (the platform
// then has its default, 30 days) let backend.env's value through, so the
// gateway ended every session long before the platform's renewal.
test('make run: the gateway\'s nano_auth_max_age is the NANO_SESSION_MAX_AGE the platform reads', () => {
    const script = `
        set -euo pipefail
        STACK_MODE=run STACK_STATE=$1
        . "$2/scripts/lib/stack.sh"
        mkdir -p "$STACK_STATE/env.d"
        rm -f "$STACK_STATE/env.d/platform" "$STACK_STATE/backend.env"
        [ "$3" = - ] || printf '%s\\n' "$3" >"$STACK_STATE/env.d/platform"
        [ "$4" = - ] || printf 'A=1\\0%s\\0' "$4" >"$STACK_STATE/backend.env"
        stack_session_max_age`;
    const state = fs.mkdtempSync(path.join(tmpRoot, 'max-age-'));
    const rows = [
        // env.d/platform's line, backend.env's entry, what the platform reads
        ['NANO_SESSION_MAX_AGE=600', '-', '600'],
        ['NANO_SESSION_MAX_AGE=0600', '-', '600'],
        ['NANO_SESSION_MAX_AGE=00000000000600', '-', '600'],
        ['-', 'NANO_SESSION_MAX_AGE=0900', '900'],
        ['OTHER=1', 'NANO_SESSION_MAX_AGE=900', '900'],
        ['NANO_SESSION_MAX_AGE=', 'NANO_SESSION_MAX_AGE=900', '2592000'],
        ['NANO_SESSION_MAX_AGE=700', 'NANO_SESSION_MAX_AGE=900', '700'],
        // values the platform refuses to start with: the gateway's default
        ['NANO_SESSION_MAX_AGE=+600', '-', '2592000'],
        ['NANO_SESSION_MAX_AGE=0', '-', '2592000'],
        ['NANO_SESSION_MAX_AGE=0299', '-', '2592000'],
        ['NANO_SESSION_MAX_AGE=2592001', '-', '2592000'],
        ['-', '-', '2592000'],
    ];
    for (const [envd, saved, want] of rows) {
        const r = spawnSync('bash', ['-c', script, 'max-age', state, ROOT, envd, saved], {
            encoding: 'utf8', timeout: 30000, killSignal: 'SIGKILL',
        });
        assert.equal(r.status, 0, r.stderr.slice(-500));
        assert.equal(r.stdout.trim(), want, `env.d ${envd}, backend.env ${saved}`);
    }
});
