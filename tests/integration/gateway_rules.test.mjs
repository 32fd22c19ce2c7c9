// The gateway module on its own nginx, no platform needed: the one cookie
// rule (https origins read only __Secure-, http ones only the plain name,
// stray chunks, two Cookie lines), identity claims with control
// characters, the revocation file (within 2 s, user cut-off, nginx -s
// reload, the file removed or malformed), nginx's access phase (satisfy
// any, auth_delay, error_page 401, a backend's own 401), the answers
// (JSON 401, 302 naming nano_auth_login_url), $nano_auth_origin and
// nano_auth_hsts.
//
// It starts nginx (the system binary with build/modules/...so) in a temp
// dir on free loopback ports, with locations that show
// "$nano_user_id|$nano_auth_status|$nano_auth_origin" after the access
// phase (try_files into a named location: `return` would run before it),
// and stops it at the end.  One worker: every worker keeps its own
// snapshot, so with one the test knows which snapshot answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
    jwt, claims, now, sleep, freePort, startOwnNginx, ownNginxMain, stopOwnNginx,
    loopbackRequest,
} from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NGINX = process.env.NGINX || '/usr/sbin/nginx';
const MODULE_SO = path.join(ROOT, 'build/modules/ngx_http_nano_auth_module.so');
const KEY = 'gateway-rules-test-key-0123456789abcdefghij';
const NAME = 'next-auth.session-token';
const SNAME = `__Secure-${NAME}`;
const LOGIN = '/custom/sign-in?via=gateway&x=<b>';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-gateway-rules-'));
const REVOKED = path.join(dir, 'revocations');
const ERROR_LOG = path.join(dir, 'error.log');
const CONF = path.join(dir, 'nginx.conf');
let master;             // the nginx master process
let backend;            // a node server standing in for a backend
const port = {};        // secure (https origin), plain (http origin), backend

function config() {
    const show = 'try_files /nonexistent @show;';
    return `${ownNginxMain({ moduleSo: MODULE_SO, dir, errorLog: ERROR_LOG })}
http {
    access_log off;
    client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp;
    fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
    root ${dir}/html;

    nano_auth_secret_file     ${dir}/keys;
    nano_auth_revocation_file ${REVOKED};

    server {
        listen 127.0.0.1:${port.secure};
        nano_auth_origin HTTPS://App.Example.COM:443 https://other.example.com:8443;
        nano_auth on;
        nano_auth_hsts 365d;

        location / { ${show} }
        location @show { return 200 "$nano_user_id|$nano_auth_status|$nano_auth_origin\\n"; }
        location /open/ { nano_auth off; ${show} }
        location /any/ { satisfy any; allow 127.0.0.1; deny all; ${show} }
        location /delay/ { auth_delay 500ms; ${show} }
        location /ep/ { error_page 401 /operator.html; ${show} }
        location = /operator.html { nano_auth off; return 401 "the operator's own page\\n"; }
        location /custom/ { nano_auth_login_url '${LOGIN}'; ${show} }
        location /backend/ { proxy_pass http://127.0.0.1:${port.backend}; }
        location /any-backend/ { satisfy any; allow 127.0.0.1; deny all;
                                 proxy_pass http://127.0.0.1:${port.backend}; }
        location /own-header/ { nano_auth off; add_header X-Own yes; return 200 "own\\n"; }
        location /hsts-off/ { nano_auth off; nano_auth_hsts 0; return 200 "off\\n"; }
    }

    server {
        listen 127.0.0.1:${port.plain};
        nano_auth_origin http://127.0.0.1:${port.plain};
        nano_auth on;

        location / { ${show} }
        location @show { return 200 "$nano_user_id|$nano_auth_status|$nano_auth_origin\\n"; }
        location /open/ { nano_auth off; ${show} }
    }
}
`;
}

before(async () => {
    port.secure = await freePort();
    port.plain = await freePort();
    port.backend = await freePort();
    // nginx's workers (nobody when we are root) read the revocation file
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(path.join(dir, 'html'));
    fs.mkdirSync(path.join(dir, 'tmp'));
    fs.writeFileSync(path.join(dir, 'keys'), `${KEY}\n`, { mode: 0o600 });
    fs.writeFileSync(CONF, config());

    backend = http.createServer((req, res) => {
        res.writeHead(401, { 'Content-Type': 'text/plain', 'X-Backend': 'yes' });
        res.end('the backend says no\n');
    });
    await new Promise((resolve) => backend.listen(port.backend, '127.0.0.1', resolve));

    master = await startOwnNginx({ nginx: NGINX, dir, conf: CONF, log: ERROR_LOG,
        ports: [port.secure, port.plain] });
});

after(async () => {
    await stopOwnNginx(master);
    if (backend) await new Promise((resolve) => backend.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
});

// get(port, path, headers, method) -> {status, headers, text, ms}
function get(p, urlPath, headers = {}, method = 'GET') {
    return loopbackRequest(p, urlPath, { headers, method });
}

// The request written raw, so that two Cookie lines stay two lines.
function raw(p, urlPath, cookieLines) {
    return new Promise((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port: p });
        const chunks = [];
        s.on('data', (c) => chunks.push(c));
        s.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const [head, ...body] = text.split('\r\n\r\n');
            resolve({ status: Number(head.split(' ')[1]), head, text: body.join('\r\n\r\n') });
        });
        s.on('error', reject);
        s.write(`GET ${urlPath} HTTP/1.1\r\nHost: app.example.com\r\n`
            + cookieLines.map((l) => `Cookie: ${l}\r\n`).join('')
            + 'Connection: close\r\n\r\n');
    });
}

const token = (over = {}) => {
    const c = claims(over);
    return { c, t: jwt(c, { key: KEY }) };
};

// "$nano_user_id|$nano_auth_status" of a cookie at an open location.
async function seen(p, cookie) {
    const res = await get(p, '/open/x', cookie === undefined ? {} : { Cookie: cookie });
    assert.equal(res.status, 200, res.text);
    return res.text.split('|').slice(0, 2).join('|');
}

// Writes the snapshot the way the platform does: a new file renamed over.
function writeRevocations(lines, generated = now()) {
    const tmp = `${REVOKED}.tmp`;
    fs.writeFileSync(tmp, ['nano-revocations 1', `generated ${generated}`, ...lines, ''].join('\n'), { mode: 0o644 });
    fs.renameSync(tmp, REVOKED);
}

async function until(fn, ms) {
    const end = Date.now() + ms;
    for (;;) {
        if (await fn()) return true;
        if (Date.now() > end) return false;
        await sleep(50);
    }
}

// --- the one cookie rule -------------------------------------------------

test('https origin: only __Secure- is read (a planted plain cookie never picks the identity)', async () => {
    const victim = token();
    const attacker = token();
    assert.equal(await seen(port.secure, `${SNAME}=${victim.t}; ${NAME}=${attacker.t}`), `${victim.c.sub}|ok`);
    assert.equal(await seen(port.secure, `${NAME}=${attacker.t}; ${SNAME}=${victim.t}`), `${victim.c.sub}|ok`);
    // the plain name alone is no session at all
    assert.equal(await seen(port.secure, `${NAME}=${attacker.t}`), '|missing');
    const res = await get(port.secure, '/api/me', { Cookie: `${NAME}=${attacker.t}` });
    assert.equal(res.status, 401);
    const ok = await get(port.secure, '/api/me', { Cookie: `${SNAME}=${victim.t}` });
    assert.equal(ok.status, 200);
    assert.equal(ok.text.split('|')[0], victim.c.sub);
});

test('http origin: only the plain name is read', async () => {
    const a = token();
    const b = token();
    assert.equal(await seen(port.plain, `${NAME}=${a.t}`), `${a.c.sub}|ok`);
    assert.equal(await seen(port.plain, `${SNAME}=${b.t}`), '|missing');
    assert.equal(await seen(port.plain, `${SNAME}=${b.t}; ${NAME}=${a.t}`), `${a.c.sub}|ok`);
    assert.equal((await get(port.plain, '/api/me', { Cookie: `${SNAME}=${b.t}` })).status, 401);
});

test('a stray chunk of the name that is not read never blocks the one that is', async () => {
    const a = token();
    assert.equal(await seen(port.secure, `${NAME}.9=junk; ${SNAME}=${a.t}`), `${a.c.sub}|ok`);
    assert.equal(await seen(port.secure, `${NAME}.0=x; ${NAME}.2=y; ${SNAME}=${a.t}`), `${a.c.sub}|ok`);
    const page = await get(port.secure, '/m/', { Cookie: `${NAME}.9=junk; ${SNAME}=${a.t}` });
    assert.equal(page.status, 200);
    assert.equal(await seen(port.plain, `${SNAME}.9=junk; ${NAME}=${a.t}`), `${a.c.sub}|ok`);
    // a stray chunk of the name that IS read is a malformed cookie
    assert.equal(await seen(port.secure, `${SNAME}.9=junk`), '|invalid');
});

test('a plain cookie beside a chunked session is a conflict: a planted one never picks the identity', async () => {
    // The platform writes either the plain cookie or chunks and clears the
    // other, so both at once means one was planted (a Domain cookie from a
    // sibling host); the plain one used to win over the victim's chunks.
    const victim = token();
    const attacker = token();
    const half = Math.floor(victim.t.length / 2);
    const chunks = `${SNAME}.0=${victim.t.slice(0, half)}; ${SNAME}.1=${victim.t.slice(half)}`;
    assert.equal(await seen(port.secure, chunks), `${victim.c.sub}|ok`);
    for (const cookie of [`${chunks}; ${SNAME}=${attacker.t}`, `${SNAME}=${attacker.t}; ${chunks}`,
        `${SNAME}=${victim.t}; ${chunks}`]) {
        assert.equal(await seen(port.secure, cookie), '|invalid', cookie.slice(0, 60));
        const res = await get(port.secure, '/api/me', { Cookie: cookie });
        assert.equal(res.status, 401);
    }
    // a planted chunk beside the victim's plain cookie: refused alike
    assert.equal(await seen(port.secure, `${SNAME}=${victim.t}; ${SNAME}.0=${attacker.t}`), '|invalid');
    // an empty plain cookie (a cleared one) beside chunks is no cookie
    assert.equal(await seen(port.secure, `${SNAME}=; ${chunks}`), `${victim.c.sub}|ok`);
    assert.equal(await seen(port.plain, `${NAME}=${attacker.t}; ${NAME}.0=${victim.t}`), '|invalid');
});

test('two Cookie header lines are read as one header', async () => {
    const a = token();
    const half = Math.floor(a.t.length / 2);
    // one cookie per line
    let res = await raw(port.plain, '/x', [`other=1; ${NAME}=${a.t}`, 'z=2']);
    assert.equal(res.status, 200, res.head);
    assert.equal(res.text, `${a.c.sub}|ok|http://127.0.0.1:${port.plain}\n`);
    // a chunked session split across the two lines
    res = await raw(port.secure, '/x', [`${SNAME}.0=${a.t.slice(0, half)}`, `${SNAME}.1=${a.t.slice(half)}`]);
    assert.equal(res.status, 200, res.head);
    assert.equal(res.text.split('|')[0], a.c.sub);
    // the same name in both lines with the same value: fine
    res = await raw(port.plain, '/x', [`${NAME}=${a.t}`, `${NAME}=${a.t}`]);
    assert.equal(res.status, 200, res.head);
    // the same name with different values: a conflict, refused
    const b = token();
    res = await raw(port.plain, '/x', [`${NAME}=${a.t}`, `${NAME}=${b.t}`]);
    assert.equal(res.status, 302, res.head);
    res = await raw(port.plain, '/open/x', [`${NAME}=${b.t}`, `${NAME}=${a.t}`]);
    assert.equal(res.text.split('|').slice(0, 2).join('|'), '|invalid');
});

// --- identity claims ------------------------------------------------------

test('a token whose name holds an escaped CR/LF (or another control character) is refused', async () => {
    for (const over of [{ name: 'Eve\r\nX-Injected: 1' }, { name: 'a\u0085b' }, { email: 'e@x\u007f' },
        { sub: 'u\tid' }, { jti: 'j\u0000' }]) {
        const { t } = token(over);
        assert.equal(await seen(port.plain, `${NAME}=${t}`), '|invalid', JSON.stringify(over));
        assert.equal((await get(port.plain, '/api/x', { Cookie: `${NAME}=${t}` })).status, 401);
    }
    // U+00A0 and other printable characters are fine
    const ok = token({ name: 'Jos\u00e9\u00a0M\u00fcller \u{1F34C}' });
    assert.equal(await seen(port.plain, `${NAME}=${ok.t}`), `${ok.c.sub}|ok`);
});

// --- revocation -----------------------------------------------------------

test('revocation: a missing file revokes nothing (and is logged); a revoked jti is refused within 2 s', async () => {
    const a = token();
    const b = token();
    const cookie = `${NAME}=${a.t}`;
    assert.equal(await seen(port.plain, cookie), `${a.c.sub}|ok`);
    assert.match(fs.readFileSync(ERROR_LOG, 'utf8'), /nano_auth_revocation_file: stat\(\) ".*revocations"; no revocations known/);

    const t0 = Date.now();
    writeRevocations([`s ${a.c.exp} ${a.c.jti}`]);
    const revoked = await until(async () => (await seen(port.plain, cookie)) === '|revoked', 3000);
    const delay = Date.now() - t0;
    assert.ok(revoked, 'revoked at all');
    assert.ok(delay < 2000, `refused after ${delay} ms`);
    console.log(`# revocation took effect after ${delay} ms`);
    // each worker looks at most once a second: 2 s after the write every
    // one of them refuses it
    await sleep(Math.max(0, 2000 - (Date.now() - t0)));
    for (let i = 0; i < 20; i++) assert.equal(await seen(port.plain, cookie), '|revoked', `request ${i}`);

    // refused like any invalid session, identity variables not found
    assert.equal((await get(port.plain, '/api/x', { Cookie: cookie })).status, 401);
    const page = await get(port.plain, '/page', { Cookie: cookie });
    assert.equal(page.status, 302);
    // other sessions of other users are untouched
    assert.equal(await seen(port.plain, `${NAME}=${b.t}`), `${b.c.sub}|ok`);
});

test('revocation: a user cut-off revokes tokens issued before it, or without iat', async () => {
    const t = now();
    const sub = `cut-${t}`;
    const old = token({ sub, iat: t - 100 });
    const noIat = token({ sub });
    delete noIat.c.iat;
    noIat.t = jwt(noIat.c, { key: KEY });
    const fresh = token({ sub, iat: t - 10 });
    const other = token({ iat: t - 100 });

    writeRevocations([`u ${t - 10} ${sub}`]);
    assert.ok(await until(async () => (await seen(port.plain, `${NAME}=${old.t}`)) === '|revoked', 3000));
    await sleep(1100);      // every worker has read it now
    assert.equal(await seen(port.plain, `${NAME}=${noIat.t}`), '|revoked');
    assert.equal(await seen(port.plain, `${NAME}=${fresh.t}`), `${sub}|ok`, 'iat equal to the cut-off');
    assert.equal(await seen(port.plain, `${NAME}=${other.t}`), `${other.c.sub}|ok`);
});

test('revocation: survives nginx -s reload; a removed or malformed file leaves the last snapshot', async () => {
    const a = token({ sub: 'user with spaces %', jti: 'jti with spaces, 100% and caf\u00e9' });
    const enc = (s) => Buffer.from(s).toString('latin1').replace(/[^\x21-\x7e]|%/g,
        (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
    writeRevocations([`s ${a.c.exp} ${enc(a.c.jti)}`]);
    const cookie = `${NAME}=${a.t}`;
    assert.ok(await until(async () => (await seen(port.plain, cookie)) === '|revoked', 3000), 'percent-encoded jti');
    await sleep(1100);

    // nginx -s reload: new workers start empty and read the file at once
    const workers = () => spawnSync('pgrep', ['-P', String(master.pid)], { encoding: 'utf8' })
        .stdout.trim().split('\n').filter(Boolean);
    const before = workers();
    const r = spawnSync(NGINX, ['-s', 'reload', '-p', `${dir}/`, '-c', CONF, '-e', ERROR_LOG], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(await until(() => workers().length === 1 && workers().every((w) => !before.includes(w)), 10000),
        'new workers');
    assert.equal(await seen(port.plain, cookie), '|revoked', 'right after the reload');

    // the file removed: the last snapshot stays in force
    fs.rmSync(REVOKED);
    await sleep(1200);
    assert.equal(await seen(port.plain, cookie), '|revoked', 'file removed');
    assert.match(fs.readFileSync(ERROR_LOG, 'utf8'), /the last snapshot read stays in force/);

    // a malformed file is refused whole: the last good snapshot stays
    fs.writeFileSync(`${REVOKED}.tmp`, 'nano-revocations 1\ngenerated 1\ns 1 a\r\n', { mode: 0o644 });
    fs.renameSync(`${REVOKED}.tmp`, REVOKED);
    await sleep(1200);
    assert.equal(await seen(port.plain, cookie), '|revoked', 'malformed file');
    assert.match(fs.readFileSync(ERROR_LOG, 'utf8'), /refused: line 3: a CR before the newline .*; the last good snapshot stays in force/);

    // an empty snapshot lifts it; an old "generated" stamp is warned about
    writeRevocations([], now() - 3600);
    assert.ok(await until(async () => (await seen(port.plain, cookie)) === `${a.c.sub}|ok`, 3000), 'lifted');
    assert.match(fs.readFileSync(ERROR_LOG, 'utf8'), /was generated 36\d\d s ago/);
});

// --- nginx's access phase -------------------------------------------------

test('satisfy any: allow 127.0.0.1 admits a request without a session', async () => {
    const res = await get(port.secure, '/any/x');
    assert.equal(res.status, 200);
    assert.equal(res.text, '|missing|https://app.example.com\n');
    const a = token();
    const ok = await get(port.secure, '/any/x', { Cookie: `${SNAME}=${a.t}` });
    assert.equal(ok.text.split('|')[0], a.c.sub);
});

test('auth_delay 500ms delays the refusal, not a valid session', async () => {
    const res = await get(port.secure, '/delay/x', { Accept: 'application/json' });
    assert.equal(res.status, 401);
    assert.ok(res.ms >= 500, `answered after ${res.ms} ms`);
    assert.equal(res.text, '{"error":"unauthorized","message":"sign in first"}\n');
    const page = await get(port.secure, '/delay/x');
    assert.equal(page.status, 302);
    assert.ok(page.ms >= 500, `answered after ${page.ms} ms`);
    const a = token();
    const ok = await get(port.secure, '/delay/x', { Cookie: `${SNAME}=${a.t}` });
    assert.equal(ok.status, 200);
    assert.ok(ok.ms < 400, `a session is not delayed (${ok.ms} ms)`);
});

test("error_page 401 shows the operator's page", async () => {
    const res = await get(port.secure, '/ep/x');
    assert.equal(res.status, 401);
    assert.equal(res.text, "the operator's own page\n");
    assert.equal(res.headers.location, undefined);
    const api = await get(port.secure, '/ep/api/x', { Accept: 'application/json' });
    assert.equal(api.text, "the operator's own page\n");
});

test("a backend's own 401 is never rewritten", async () => {
    const a = token();
    for (const [p, headers] of [['/backend/x', { Cookie: `${SNAME}=${a.t}` }], ['/any-backend/x', {}],
        ['/any-backend/api/x', { Accept: 'application/json' }]]) {
        const res = await get(port.secure, p, headers);
        assert.equal(res.status, 401, p);
        assert.equal(res.text, 'the backend says no\n', p);
        assert.equal(res.headers['x-backend'], 'yes', p);
        assert.equal(res.headers.location, undefined, p);
    }
    // without a session the gateway refuses before the backend is asked
    const res = await get(port.secure, '/backend/x');
    assert.equal(res.status, 302);
});

// --- the answers ------------------------------------------------------------

test('the JSON 401 and the 302: exact headers and bodies; HEAD has no body', async () => {
    const api = await get(port.secure, '/api/x');
    assert.equal(api.status, 401);
    assert.match(api.headers['content-type'], /^application\/json/);
    assert.equal(api.headers['cache-control'], 'no-store');
    // a human message, as the backends' refusals carry (none until the
    // apiedges probe)
    assert.equal(api.text, '{"error":"unauthorized","message":"sign in first"}\n');
    // RFC 9110: a 401 carries a challenge (some clients fail without
    // one); a cookie has no registered scheme: the Cookie draft's
    assert.equal(api.headers['www-authenticate'], 'Cookie realm="nano", form-action="/api/auth/signin"');
    const post = await get(port.secure, '/page', {}, 'POST');
    assert.equal(post.status, 401);

    const page = await get(port.secure, '//evil.example/p?q=1', { Host: 'evil.example' });
    assert.equal(page.status, 302);
    assert.equal(page.headers.location, '/api/auth/signin?callbackUrl=%2Fevil.example%2Fp%3Fq%3D1');
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.headers['content-type'], /^text\/html/);
    assert.equal(page.text, '<!doctype html><title>Sign in</title><p>Please <a href="/api/auth/signin">sign in</a>.</p>\n');
    const bs = await get(port.secure, '/\\evil.example/');
    assert.equal(bs.headers.location, '/api/auth/signin?callbackUrl=%2Fevil.example%2F');

    const head = await get(port.secure, '/page', {}, 'HEAD');
    assert.equal(head.status, 302);
    assert.equal(head.text, '');
    assert.equal(head.headers.location, '/api/auth/signin?callbackUrl=%2Fpage');
    const headApi = await get(port.secure, '/api/x', {}, 'HEAD');
    assert.equal(headApi.status, 401);
    assert.equal(headApi.text, '');
    assert.equal(headApi.headers['content-length'], '51', 'the GET\'s body\'s length');
});

test('the 302 body names the configured nano_auth_login_url (HTML-escaped), and the 401\'s challenge names it', async () => {
    const res = await get(port.secure, '/custom/page?a=1');
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, `${LOGIN}&callbackUrl=${encodeURIComponent('/custom/page?a=1')}`);
    assert.equal(res.text, '<!doctype html><title>Sign in</title><p>Please '
        + '<a href="/custom/sign-in?via=gateway&amp;x=&lt;b&gt;">sign in</a>.</p>\n');
    assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.text));
    const api = await get(port.secure, '/custom/api/x');
    assert.equal(api.status, 401);
    assert.equal(api.headers['www-authenticate'], `Cookie realm="nano", form-action="${LOGIN}"`);
});

test('$nano_auth_origin is the first origin, normalised, with or without a session', async () => {
    assert.equal((await get(port.secure, '/open/x')).text, '|missing|https://app.example.com\n');
    assert.equal((await get(port.plain, '/open/x')).text, `|missing|http://127.0.0.1:${port.plain}\n`);
    const a = token();
    assert.equal((await get(port.secure, '/x', { Cookie: `${SNAME}=${a.t}` })).text,
        `${a.c.sub}|ok|https://app.example.com\n`);
});

// HSTS through add_header was lost in every location with an add_header
// of its own (most of gateway.conf's): the module adds it to every answer
// of an https site, its own 302 and 401, nginx's 404 and a backend's.
test('nano_auth_hsts: every answer of an https site carries Strict-Transport-Security; 0 turns it off; an http site none', async () => {
    const sts = 'max-age=31536000';
    const cases = [
        ['a page without a session (302)', '/page', 302],
        ['an API without a session (401)', '/api/x', 401],
        ['a location without nano_auth', '/open/x', 200],
        ['a location with an add_header of its own', '/own-header/', 200],
        ["a backend's own answer", '/any-backend/x', 401],
    ];
    for (const [what, p, status] of cases) {
        const res = await get(port.secure, p);
        assert.equal(res.status, status, `${what}: ${res.status}`);
        assert.equal(res.headers['strict-transport-security'], sts, what);
    }
    const own = await get(port.secure, '/own-header/');
    assert.equal(own.headers['x-own'], 'yes', 'the location\'s own header stays');
    const off = await get(port.secure, '/hsts-off/');
    assert.equal(off.status, 200);
    assert.equal(off.headers['strict-transport-security'], undefined, 'nano_auth_hsts 0');
    const plain = await get(port.plain, '/open/x');
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['strict-transport-security'], undefined, 'an http site promises nothing');
});
