// The packaged site (ops/nginx-site.conf.in) as an operator enables it
// on Debian's nginx, behind TLS and HTTP/2: the site filled in with
// server_name, an https nano_auth_origin and a self-signed certificate
// (openssl), `listen ... ssl http2`, beside Debian's default site (plain
// http, default_server) and the operator's port-80 redirect to https, in
// an http {} as Debian's nginx.conf has it (gzip on).  No backend runs
// (their upstreams name sockets nobody listens on: an admitted request is
// 502), so this is the gateway's part of an https deployment: ALPN h2,
// the __Secure- cookie read and the plain one ignored, the relative
// redirect to sign in, the Origin check against the https origin (an
// http:// Origin of the same host and port is refused, X-Forwarded-Proto
// changes nothing), 413 over h2, and Strict-Transport-Security on the
// site's answers only, never on another server of the same nginx.
//
// It starts nginx (the system binary with build/modules/...so) in a temp
// dir on free loopback ports and stops it at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { jwt, claims, freePort, startOwnNginx, ownNginxMain, stopOwnNginx } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NGINX = process.env.NGINX || '/usr/sbin/nginx';
const MODULE_SO = path.join(ROOT, 'build/modules/ngx_http_nano_auth_module.so');
const KEY = 'tls-test-session-key-0123456789abcdefghij';
const NAME = 'next-auth.session-token';
const STS = 'max-age=31536000';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-tls-'));
const ERROR_LOG = path.join(dir, 'error.log');
const CONF = path.join(dir, 'nginx.conf');
const port = {};        // tls (the site), plain (Debian's default), redirect
let origin;             // the site's origin, https://localhost:<tls>
let master;

// The packaged site, edited as docs/OPERATIONS.md "First setup" says:
// server_name, nano_auth_origin, TLS (the certificate lines uncommented),
// on this test's port with http2; paths in the temp dir.
function site() {
    const text = fs.readFileSync(path.join(ROOT, 'ops/nginx-site.conf.in'), 'utf8')
        .replaceAll('@CONFDIR@', dir)
        .replaceAll('@DATADIR@', path.join(dir, 'data'))
        .replaceAll('@MEDIADIR@', path.join(dir, 'media'))
        .replace(/^nano_auth_origin .*$/m, `nano_auth_origin           ${origin};`)
        .replace(/^nano_auth_revocation_file .*$/m, `nano_auth_revocation_file  ${dir}/revocations;`)
        .replace(/^( *)listen +443 ssl;$/m, `$1listen       127.0.0.1:${port.tls} ssl http2;`)
        .replace(/^ *listen +\[::\]:443 ssl;\n/m, '')
        .replace(/server_name +app\.example\.com;/, 'server_name  localhost;')
        .replace(/#ssl_certificate +\S+;/, `ssl_certificate      ${dir}/cert.pem;`)
        .replace(/#ssl_certificate_key +\S+;/, `ssl_certificate_key  ${dir}/key.pem;`)
        .replace('/var/log/nginx/nano.access.log', `${dir}/access.log`);
    assert.ok(text.includes(`127.0.0.1:${port.tls} ssl http2`) && text.includes(`${dir}/cert.pem`),
        'the packaged site still has the lines an operator edits');
    return text;
}

// Debian's nginx.conf, its http {} trimmed to what matters here, with its
// default site and the operator's redirect to https.
function config() {
    return `${ownNginxMain({ moduleSo: MODULE_SO, dir, errorLog: ERROR_LOG })}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ssl_protocols TLSv1.2 TLSv1.3;
    gzip on;
    client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp;
    fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
    access_log off;

    # sites-enabled/default
    server {
        listen 127.0.0.1:${port.plain} default_server;
        root ${dir}/html;
        server_name _;
        location / { try_files $uri $uri/ =404; }
    }
    # the operator's plain http server: everything to https
    server {
        listen 127.0.0.1:${port.redirect};
        server_name localhost;
        return 301 https://$host:${port.tls}$request_uri;
    }

    include ${dir}/sites-enabled/*;
}
`;
}

before(async () => {
    port.tls = await freePort();
    port.plain = await freePort();
    port.redirect = await freePort();
    origin = `https://localhost:${port.tls}`;
    // nginx's workers (nobody when we are root) read the site's files
    fs.chmodSync(dir, 0o755);
    for (const d of ['html', 'tmp', 'media', 'sock', 'sites-enabled', 'nano']) fs.mkdirSync(path.join(dir, d));
    fs.writeFileSync(path.join(dir, 'html/index.html'), 'Welcome to nginx!\n');
    // the site's /ui/ from a copy, as the package installs one: the
    // checkout may lie where the workers cannot read (/root/src in
    // make fresh-test's chroot answered 403)
    fs.cpSync(path.join(ROOT, 'backends/ui'), path.join(dir, 'data/backends/ui'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'keys'), `${KEY}\n`, { mode: 0o600 });
    const cert = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { encoding: 'utf8' });
    assert.equal(cert.status, 0, `openssl: ${cert.stderr}`);
    // /etc/nginx/nano/: the snippets, and upstreams on sockets no backend
    // listens on
    for (const f of fs.readdirSync(path.join(ROOT, 'nginx.conf.d'))) {
        fs.symlinkSync(path.join(ROOT, 'nginx.conf.d', f), path.join(dir, 'nano', f));
    }
    const up = spawnSync(path.join(ROOT, 'scripts/upstreams.sh'), ['unix', path.join(dir, 'sock')], { encoding: 'utf8' });
    assert.equal(up.status, 0, up.stderr);
    fs.writeFileSync(path.join(dir, 'nano/upstreams.conf'), up.stdout);
    fs.writeFileSync(path.join(dir, 'sites-enabled/nano'), site());
    fs.writeFileSync(CONF, config());
    master = await startOwnNginx({ nginx: NGINX, dir, conf: CONF, log: ERROR_LOG,
        ports: [port.tls, port.plain, port.redirect] });
});

after(async () => {
    await stopOwnNginx(master);
    fs.rmSync(dir, { recursive: true, force: true });
});

// h2(method, path, headers, body) over TLS to the site:
// {status, headers, text, alpn}
function h2(method, urlPath, headers = {}, body) {
    return new Promise((resolve, reject) => {
        // (node keeps a body it has not sent yet within maxSessionMemory,
        // 10 MB by default, and resets the stream past it)
        const session = http2.connect(origin, { rejectUnauthorized: false, host: '127.0.0.1', maxSessionMemory: 64 });
        session.on('error', reject);
        const req = session.request({ ':method': method, ':path': urlPath, ...headers });
        const chunks = [];
        let head;
        req.on('response', (h) => { head = h; });
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const alpn = session.alpnProtocol;
            session.close();
            resolve({ status: head[':status'], headers: head, text: Buffer.concat(chunks).toString('utf8'), alpn });
        });
        req.on('error', (e) => { session.close(); reject(e); });
        req.end(body);
    });
}

// plain(port, path): an HTTP/1.1 GET over plain http to another server
function plain(p, urlPath) {
    return new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: p, path: urlPath, headers: { Host: 'localhost' }, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
        }).on('error', reject);
    });
}

const session = () => jwt(claims(), { key: KEY });

test('TLS + HTTP/2: h2 by ALPN; without a session a page is a relative 302 to sign in, an API 401; files are served; every answer carries HSTS', async () => {
    const page = await h2('GET', '/qwen/?x=1', { accept: 'text/html' });
    assert.equal(page.alpn, 'h2');
    assert.equal(page.status, 302);
    // relative: the browser keeps https and this host and port
    assert.equal(page.headers.location, '/api/auth/signin?callbackUrl=%2Fqwen%2F%3Fx%3D1');
    assert.equal(page.headers['strict-transport-security'], STS);
    const api = await h2('GET', '/qwen/api/me', { accept: 'application/json' });
    assert.equal(api.status, 401);
    assert.deepEqual(JSON.parse(api.text), { error: 'unauthorized', message: 'sign in first' });
    assert.equal(api.headers['strict-transport-security'], STS);
    const css = await h2('GET', '/ui/ui.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['strict-transport-security'], STS);
});

test('TLS + HTTP/2: the gateway reads __Secure-next-auth.session-token (also as a second cookie field) and ignores the plain name', async () => {
    const t = session();
    // admitted: on to a backend that is not there
    const secure = await h2('GET', '/qwen/api/me', { cookie: `__Secure-${NAME}=${t}` });
    assert.equal(secure.status, 502, secure.text);
    assert.equal(secure.headers['strict-transport-security'], STS);
    // HTTP/2 lets a browser send each cookie as a field of its own
    const crumbs = await h2('GET', '/qwen/api/me', { cookie: ['a=1', `__Secure-${NAME}=${t}`, 'b=2'] });
    assert.equal(crumbs.status, 502, crumbs.text);
    const plainName = await h2('GET', '/qwen/api/me', { cookie: `${NAME}=${t}` });
    assert.equal(plainName.status, 401, 'an https site never reads the plain cookie a sibling http site could set');
});

test('TLS + HTTP/2: CSRF: only the https origin passes; http:// of the same host and port, another port and X-Forwarded-Proto do not', async () => {
    const cookie = `__Secure-${NAME}=${session()}`;
    const post = (headers) => h2('POST', '/qwen/api/generate',
        { cookie, 'content-type': 'application/json', ...headers }, '{"prompt":"hi"}');
    assert.equal((await post({ origin })).status, 502, 'the site\'s own origin passes on to the backend');
    for (const o of [`http://localhost:${port.tls}`, 'https://localhost', `https://localhost:${port.plain}`,
        `https://127.0.0.1:${port.tls}`, 'null']) {
        const res = await post({ origin: o });
        assert.equal(res.status, 403, `Origin ${o}`);
        assert.equal(JSON.parse(res.text).error, 'csrf', `Origin ${o}`);
        const fwd = await post({ origin: o, 'x-forwarded-proto': 'https', 'x-forwarded-host': `localhost:${port.tls}` });
        assert.equal(fwd.status, 403, `Origin ${o} with X-Forwarded-Proto/-Host`);
    }
});

test('TLS + HTTP/2: a body over the limit is 413 before any session check', async () => {
    const res = await h2('POST', '/nano-banana/api/generate',
        { 'content-type': 'application/octet-stream', 'content-length': String(12 << 20) }, Buffer.alloc(12 << 20));
    assert.equal(res.status, 413);
    assert.equal(res.headers['strict-transport-security'], STS);
});

// The packaged site set nano_auth_hsts at http level, beside the key file
// and the origin: every server of that nginx inherited it, so Debian's
// default site and the operator's port-80 redirect sent
// Strict-Transport-Security over plain http (RFC 6797 7.2: MUST NOT), and
// any other https site the operator serves from that nginx was pinned to
// https for a year without being asked.
test('HSTS is the site\'s only: Debian\'s default site and the plain-http redirect next to it send none', async () => {
    const def = await plain(port.plain, '/');
    assert.equal(def.status, 200);
    assert.equal(def.headers['strict-transport-security'], undefined, 'Debian\'s default site over http');
    const redirect = await plain(port.redirect, '/qwen/');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, `${origin}/qwen/`);
    assert.equal(redirect.headers['strict-transport-security'], undefined, 'the redirect to https, over http');
});
