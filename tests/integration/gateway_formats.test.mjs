// The gateway module on its own nginx, no platform needed (issue 8):
// NextAuth's JWE beside HS256 JWS, kids in the key file (format 2), the
// per-worker cache of verified tokens (exp, revocation, another key file,
// a reload), $nano_auth_reason and its mapping to $nano_auth_status, and
// the central CSRF check (nano_auth_csrf): refused state changes never
// reach the backend.
//
// JWEs are made here with node:crypto (lib.mjs jwe()); the real next-auth
// package's tokens are tested against the whole stack in tests/nextauth/.
// One worker, so every request sees the same cache.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
    jwt, jwe, jweKey, claims, now, sleep, b64url, freePort, startOwnNginx, ownNginxMain,
    stopOwnNginx, loopbackRequest,
} from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NGINX = process.env.NGINX || '/usr/sbin/nginx';
const MODULE_SO = path.join(ROOT, 'build/modules/ngx_http_nano_auth_module.so');
const KEY1 = 'gateway-formats-key-one-0123456789abcdefgh';
const KEY2 = 'gateway-formats-key-two-0123456789abcdefgh';
const KEY3 = 'gateway-formats-key-three (no kid) 0123456789';
const OTHER = 'gateway-formats-other-server-0123456789abcd';
const KEY4 = crypto.randomBytes(40);       // any bytes: NUL, CR, LF, %, space
KEY4[0] = 0; KEY4[1] = 10; KEY4[2] = 13; KEY4[3] = 0x25; KEY4[4] = 0x20;
const pct = (buf) => [...buf].map((b) => (b > 0x20 && b < 0x7f && b !== 0x25
    ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');
const NAME = 'next-auth.session-token';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-gateway-formats-'));
const ERROR_LOG = path.join(dir, 'error.log');
const ACCESS_LOG = path.join(dir, 'access.log');
const REVOKED = path.join(dir, 'revocations');
const CONF = path.join(dir, 'nginx.conf');
const port = {};
let master;
let backend;
let backendHits = 0;

// Format 2: kid k1 and "k 2" (a space, percent-encoded), a key without a
// kid holding spaces, a binary key; CRLF on one line.
const KEYFILE = [
    'nano-keys 2',
    '# the first key signs',
    `k1 ${KEY1}`,
    `k%202 ${KEY2}\r`,
    '',
    pct(Buffer.from(KEY3)),
    `bin ${pct(KEY4)}`,
    '',
].join('\n');

function config() {
    const show = 'try_files /nonexistent @show;';
    const body = '"$nano_user_id|$nano_user_email|$nano_user_name|$nano_session_id|$nano_auth_status\\n"';
    return `${ownNginxMain({ moduleSo: MODULE_SO, dir, errorLog: ERROR_LOG })}
http {
    log_format t '$request_method $request_uri $status status=$nano_auth_status reason=$nano_auth_reason';
    access_log ${ACCESS_LOG} t;
    client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp;
    fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
    root ${dir}/html;

    nano_auth_secret_file     ${dir}/keys;
    nano_auth_revocation_file ${REVOKED};

    server {
        listen 127.0.0.1:${port.main};
        nano_auth_origin http://127.0.0.1:${port.main} HTTP://App.Example.com:80;
        nano_auth on;
        nano_auth_csrf on;
        add_header X-Reason $nano_auth_reason always;

        location / { ${show} }
        location @show { return 200 ${body}; }
        location /short/ { nano_auth_leeway 0; ${show} }
        location /nocsrf/ { nano_auth_csrf off; ${show} }
        location /open/ { nano_auth off; ${show} }
        location /any/ { satisfy any; allow 127.0.0.1; deny all; ${show} }
        location /backend/ { proxy_pass http://127.0.0.1:${port.backend}; }
    }

    server {
        listen 127.0.0.1:${port.other};
        nano_auth_secret_file ${dir}/other-keys;
        nano_auth_origin http://127.0.0.1:${port.other};
        nano_auth on;
        add_header X-Reason $nano_auth_reason always;
        location / { ${show} }
        location @show { return 200 ${body}; }
    }
}
`;
}

before(async () => {
    port.main = await freePort();
    port.other = await freePort();
    port.backend = await freePort();
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(path.join(dir, 'html'));
    fs.mkdirSync(path.join(dir, 'tmp'));
    fs.writeFileSync(path.join(dir, 'keys'), KEYFILE, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'other-keys'), `${OTHER}\n`, { mode: 0o600 });
    fs.writeFileSync(REVOKED, `nano-revocations 1\ngenerated ${now()}\n`, { mode: 0o644 });
    fs.writeFileSync(CONF, config());

    backend = http.createServer((req, res) => {
        backendHits++;
        req.resume();
        req.on('end', () => { res.writeHead(200); res.end('backend\n'); });
    });
    await new Promise((resolve) => backend.listen(port.backend, '127.0.0.1', resolve));

    master = await startOwnNginx({ nginx: NGINX, dir, conf: CONF, log: ERROR_LOG,
        ports: [port.main, port.other] });
});

after(async () => {
    await stopOwnNginx(master);
    if (backend) await new Promise((resolve) => backend.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
});

// request(path, {headers, method, body, p}) -> {status, headers, text, ms}
function request(urlPath, { headers = {}, method = 'GET', body, p = port.main } = {}) {
    return loopbackRequest(p, urlPath, { headers, method, body });
}

const cookie = (t) => ({ Cookie: `${NAME}=${t}` });

// The identity a token gives at an API path, or its refusal and reason.
async function check(t, urlPath = '/api/x', p = port.main) {
    const res = await request(urlPath, { headers: cookie(t), p });
    return { status: res.status, reason: res.headers['x-reason'] || '', text: res.text };
}

async function assertAccepted(t, c, what, urlPath) {
    const r = await check(t, urlPath);
    assert.equal(r.status, 200, `${what}: ${r.status} ${r.reason} ${r.text}`);
    assert.equal(r.text, `${c.sub}|${c.email ?? ''}|${c.name ?? ''}|${c.jti ?? ''}|ok\n`, what);
    assert.equal(r.reason, '', `${what}: no reason when admitted`);
}

async function assertRefused(t, reason, what, urlPath) {
    const r = await check(t, urlPath);
    assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
    assert.equal(r.reason, reason, what);
}

// The next-auth v4 claims: name, email, picture, sub, iat, exp, jti.
function naClaims(over = {}) {
    const c = claims();
    return {
        name: c.name, email: c.email, picture: 'https://example.com/p.png', sub: c.sub,
        iat: c.iat, exp: c.exp, jti: c.jti, ...over,
    };
}

// Flips one character of part i (0 header .. 4 tag) of a compact JWE,
// keeping it valid base64url of the same length.
function flip(t, i) {
    const parts = t.split('.');
    const s = parts[i];
    const pos = Math.floor(s.length / 2);
    const ch = s[pos] === 'A' ? 'B' : 'A';
    parts[i] = s.slice(0, pos) + ch + s.slice(pos + 1);
    return parts.join('.');
}

test('a JWE (dir, A256GCM) made with the first key is accepted with every claim', async () => {
    const c = naClaims();
    await assertAccepted(jwe(c, { secret: KEY1 }), c, 'JWE, first key');
    const noOptional = naClaims({ picture: null, name: null });
    delete noOptional.jti;
    await assertAccepted(jwe(noOptional, { secret: KEY1 }), { ...noOptional, name: '' }, 'JWE, null name and picture, no jti');
});

test('every key of the ring opens a JWE: rotation', async () => {
    for (const [key, what] of [[KEY2, 'second key'], [KEY3, 'key without kid']]) {
        const c = naClaims();
        await assertAccepted(jwe(c, { secret: key }), c, what);
    }
});

test('a JWE refused: tampering in header, iv, ciphertext, tag; another secret; truncated', async () => {
    const c = naClaims();
    const good = jwe(c, { secret: KEY1 });
    // a header that still parses but is not what was authenticated
    const [, ek, iv, ct, tag] = good.split('.');
    const otherHeader = `${b64url(JSON.stringify({ alg: 'dir', enc: 'A256GCM', typ: 'JWT' }))}`;
    await assertRefused([otherHeader, ek, iv, ct, tag].join('.'), 'bad_signature', 'header changed');
    await assertRefused(flip(good, 2), 'bad_signature', 'iv flipped');
    await assertRefused(flip(good, 3), 'bad_signature', 'ciphertext flipped');
    await assertRefused(flip(good, 4), 'bad_signature', 'tag flipped');
    await assertRefused(jwe(c, { secret: OTHER }), 'bad_signature', 'another secret');
    await assertRefused(jwe(c, { key: jweKey(KEY1, 'NextAuth.js Generated Encryption Key (salt)') }),
        'bad_signature', 'a salted key (next-auth with a salt)');
    await assertRefused(good.split('.').slice(0, 4).join('.'), 'malformed', 'no tag');
    await assertRefused(good.slice(0, -3), 'malformed', 'tag cut short');
    await assertRefused(`${good}.x`, 'malformed', 'a sixth part');
    await assertRefused([good.split('.')[0], 'AAAA', iv, ct, tag].join('.'), 'malformed', 'an encrypted key with dir');
    // the good one still passes (nothing above poisoned the cache)
    await assertAccepted(good, c, 'the untouched token');
});

test('a JWE refused: wrong enc or alg, zip, crit, a JWS alg on a JWE', async () => {
    const c = naClaims();
    const cases = [
        [{ alg: 'dir', enc: 'A128GCM' }, 'enc A128GCM'],
        [{ alg: 'dir', enc: 'A256CBC-HS512' }, 'enc A256CBC-HS512'],
        [{ alg: 'A256KW', enc: 'A256GCM' }, 'alg A256KW'],
        [{ alg: 'HS256', enc: 'A256GCM' }, 'alg HS256'],
        [{ enc: 'A256GCM' }, 'no alg'],
        [{ alg: 'dir' }, 'no enc'],
        [{ alg: 'dir', enc: 'A256GCM', zip: 'DEF' }, 'zip'],
        [{ alg: 'dir', enc: 'A256GCM', crit: ['exp'] }, 'crit'],
    ];
    for (const [header, what] of cases) {
        await assertRefused(jwe(c, { secret: KEY1, header }), 'unsupported', what);
    }
    const dup = b64url('{"alg":"dir","enc":"A256GCM","enc":"A128GCM"}');
    const [, ...rest] = jwe(c, { secret: KEY1 }).split('.');
    await assertRefused([dup, ...rest].join('.'), 'malformed', 'enc twice');
});

test('a JWE gets next-auth\'s 15 s clock tolerance, not nano_auth_leeway (60 s)', async () => {
    const t = now();
    await assertRefused(jwe(naClaims({ exp: t - 20 }), { secret: KEY1 }), 'expired', 'JWE 20 s past exp');
    const c = naClaims({ exp: t - 5 });
    await assertAccepted(jwe(c, { secret: KEY1 }), c, 'JWE 5 s past exp');
    const s = claims({ exp: t - 20 });
    await assertAccepted(jwt(s, { key: KEY1 }), s, 'JWS 20 s past exp (leeway 60 s)');
    await assertRefused(jwe(naClaims({ iat: t + 30 }), { secret: KEY1 }), 'not_yet_valid', 'JWE iat 30 s ahead');
    await assertRefused(jwe(naClaims({ sub: undefined }), { secret: KEY1 }), 'bad_claims', 'JWE without sub');
    await assertRefused(jwe('not json', { secret: KEY1 }), 'bad_claims', 'JWE of no JSON');
});

test('kid: a token that names one is verified with that key only; an unknown kid is refused', async () => {
    const c = claims();
    await assertAccepted(jwt(c, { key: KEY1, header: { kid: 'k1' } }), c, 'JWS kid k1, key 1');
    await assertAccepted(jwt(c, { key: KEY2, header: { kid: 'k 2' } }), c, 'JWS kid "k 2", key 2');
    await assertRefused(jwt(c, { key: KEY2, header: { kid: 'k1' } }), 'bad_signature', 'JWS kid k1, key 2');
    await assertRefused(jwt(c, { key: KEY3, header: { kid: 'k1' } }), 'bad_signature', 'JWS kid k1, the key without kid');
    await assertRefused(jwt(c, { key: KEY1, header: { kid: 'k3' } }), 'unknown_kid', 'JWS unknown kid');
    await assertRefused(jwt(c, { key: KEY1, header: { kid: '' } }), 'unknown_kid', 'JWS empty kid');
    await assertAccepted(jwt(c, { key: KEY3 }), c, 'JWS without kid, the key without kid');
    await assertAccepted(jwt(c, { key: KEY2 }), c, 'JWS without kid, key 2');
    const n = naClaims();
    await assertAccepted(jwe(n, { secret: KEY2, header: { alg: 'dir', enc: 'A256GCM', kid: 'k 2' } }), n, 'JWE kid "k 2"');
    await assertRefused(jwe(n, { secret: KEY1, header: { alg: 'dir', enc: 'A256GCM', kid: 'k 2' } }),
        'bad_signature', 'JWE kid "k 2", key 1');
    await assertRefused(jwe(n, { secret: KEY1, header: { alg: 'dir', enc: 'A256GCM', kid: 'nope' } }),
        'unknown_kid', 'JWE unknown kid');
});

test('$nano_auth_reason names each refusal; $nano_auth_status maps it', async () => {
    const c = claims();
    const cases = [
        [undefined, 'missing', 'missing'],
        ['garbage', 'malformed', 'invalid'],
        [jwt(c, { key: KEY1, alg: 'none' }), 'malformed', 'invalid'],
        [jwt(c, { key: KEY1, alg: 'HS512' }), 'malformed', 'invalid'],
        [jwt({ ...c, sub: undefined }, { key: KEY1 }), 'bad_claims', 'invalid'],
        [jwt(claims({ nbf: now() + 600 }), { key: KEY1 }), 'not_yet_valid', 'invalid'],
        [jwt(claims({ exp: now() - 600 }), { key: KEY1 }), 'expired', 'expired'],
        [jwt(c, { key: OTHER }), 'bad_signature', 'invalid'],
    ];
    for (const [t, reason, status] of cases) {
        const res = await request('/api/x', { headers: t ? cookie(t) : {} });
        assert.equal(res.status, 401, reason);
        assert.equal(res.headers['x-reason'], reason, `${reason}: ${res.headers['x-reason']}`);
        const open = await request('/open/x', { headers: t ? cookie(t) : {} });
        assert.equal(open.text.split('|').pop(), `${status}\n`, `${reason} -> $nano_auth_status ${status}`);
        assert.equal(open.headers['x-reason'], undefined, `${reason}: nothing refused at nano_auth off`);
    }
    const conflict = await request('/api/x', {
        headers: { Cookie: `${NAME}=${jwt(c, { key: KEY1 })}; ${NAME}=${jwt(claims(), { key: KEY1 })}` },
    });
    assert.equal(conflict.headers['x-reason'], 'conflict');
    const hs384 = jwt(c, { key: KEY1, alg: 'HS256', header: { alg: 'HS384' } });
    assert.equal((await check(hs384)).reason, 'unsupported', 'a 32-byte MAC under alg HS384');
    // satisfy any admitted it: nothing was refused
    const any = await request('/any/x');
    assert.equal(any.status, 200);
    assert.equal(any.headers['x-reason'], undefined);
    // and the access log carries it
    await sleep(100);
    const log = fs.readFileSync(ACCESS_LOG, 'utf8');
    assert.match(log, /GET \/api\/x 401 status=missing reason=missing/);
    assert.match(log, /GET \/api\/x 401 status=invalid reason=bad_signature/);
    assert.match(log, /GET \/open\/x 200 status=missing reason=-/);
});

test('cache: a cached token is checked against the clock on every request, per location', async () => {
    const c = claims({ exp: now() + 2 });
    const t = jwt(c, { key: KEY1 });
    await assertAccepted(t, c, 'before exp', '/short/api/x');           // verified, kept
    await assertAccepted(t, c, 'again (a cache hit)', '/short/api/x');
    await sleep(3200);
    await assertRefused(t, 'expired', 'past exp with leeway 0', '/short/api/x');
    // a location with leeway 60 s still takes it (the same token, verified again)
    await assertAccepted(t, c, 'past exp within leeway 60 s');
    await assertAccepted(t, c, 'and again');
    await assertRefused(t, 'expired', 'and still past exp at leeway 0', '/short/api/x');
});

test('cache: a cached token revoked by jti or by user is refused within 2 s', async () => {
    const a = claims();
    const b = claims();
    const ta = jwt(a, { key: KEY1 });
    const tb = jwe(naClaims(b), { secret: KEY2 });
    await assertAccepted(ta, a, 'a, before');
    await assertAccepted(tb, naClaims(b), 'b, before');
    const gen = now();
    fs.writeFileSync(`${REVOKED}.tmp`, `nano-revocations 1\ngenerated ${gen}\ns ${a.exp} ${a.jti}\nu ${gen + 60} ${b.sub}\n`);
    fs.renameSync(`${REVOKED}.tmp`, REVOKED);
    const t0 = Date.now();
    for (;;) {
        const ra = await check(ta);
        const rb = await check(tb);
        if (ra.status === 401 && rb.status === 401) {
            assert.equal(ra.reason, 'revoked');
            assert.equal(rb.reason, 'revoked');
            break;
        }
        assert.ok(Date.now() - t0 < 2000, `revocation not seen after ${Date.now() - t0} ms`);
        await sleep(100);
    }
    console.log(`# cached tokens refused ${Date.now() - t0} ms after the revocation file changed`);
    fs.writeFileSync(REVOKED, `nano-revocations 1\ngenerated ${now()}\n`);
});

test('cache: the whole token is the key: another payload with a cached token\'s MAC or tag is refused', async () => {
    const c = claims();
    const t = jwt(c, { key: KEY1 });
    await assertAccepted(t, c, 'cached');
    const [h, , sig] = t.split('.');
    const forged = `${h}.${b64url(JSON.stringify(claims()))}.${sig}`;
    await assertRefused(forged, 'bad_signature', 'JWS payload swapped under a cached MAC');
    const n = naClaims();
    const e = jwe(n, { secret: KEY1 });
    await assertAccepted(e, n, 'cached JWE');
    const other = jwe(naClaims(), { secret: KEY1 }).split('.');
    const parts = e.split('.');
    await assertRefused([parts[0], '', other[2], other[3], parts[4]].join('.'), 'bad_signature',
        'JWE ciphertext swapped under a cached tag');
});

test('cache: a token verified on one key file is not accepted by a server with another', async () => {
    const c = claims();
    const t = jwt(c, { key: KEY1 });
    await assertAccepted(t, c, 'main server');
    const r = await check(t, '/api/x', port.other);
    assert.equal(r.status, 401, 'the other server');
    assert.equal(r.reason, 'bad_signature');
    const o = claims();
    const to = jwt(o, { key: OTHER });
    assert.equal((await check(to, '/api/x', port.other)).status, 200);
    assert.equal((await check(to)).reason, 'bad_signature', 'and the other way round');
});

// The worker's resident memory, in KiB.
function workerRss() {
    const pid = spawnSync('pgrep', ['-P', String(master.pid)], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

test('cache: bounded: 4,000 distinct tokens leave the worker\'s memory flat, evicted ones verify again', async () => {
    const first = claims();
    const tFirst = jwt(first, { key: KEY1 });
    await assertAccepted(tFirst, first, 'the first token');
    // fill the 512 slots once, so the table's pages are all touched
    const make = (i) => (i % 2 ? jwe(naClaims(), { secret: KEY1 }) : jwt(claims(), { key: KEY1 }));
    const batch = async (n) => {
        const toks = Array.from({ length: n }, (_, i) => make(i));
        for (let i = 0; i < toks.length; i += 50) {
            const rs = await Promise.all(toks.slice(i, i + 50).map((t) => check(t)));
            for (const r of rs) assert.equal(r.status, 200);
        }
    };
    await batch(2000);
    const before = workerRss();
    await batch(4000);
    const grown = workerRss() - before;
    console.log(`# worker RSS grew ${grown} KiB over 4,000 more distinct tokens`);
    assert.ok(grown < 1024, `the worker grew ${grown} KiB`);
    // the first token was evicted long ago (or not): it is accepted all the same
    await assertAccepted(tFirst, first, 'the first token, after 6,000 others');
});

test('cache: nginx -s reload with a new key file empties it', async () => {
    const c = claims();
    const t = jwt(c, { key: KEY2, header: { kid: 'k 2' } });
    await assertAccepted(t, c, 'before the reload');
    fs.writeFileSync(path.join(dir, 'keys'), `nano-keys 2\nk1 ${KEY1}\n`, { mode: 0o600 });
    const r = spawnSync(NGINX, ['-p', `${dir}/`, '-c', CONF, '-e', ERROR_LOG, '-s', 'reload'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const t0 = Date.now();
    for (;;) {
        const res = await check(t);
        if (res.status === 401) {
            assert.equal(res.reason, 'unknown_kid');
            break;
        }
        assert.ok(Date.now() - t0 < 5000, 'the old key still opens the token after the reload');
        await sleep(100);
    }
    const c1 = claims();
    await assertAccepted(jwt(c1, { key: KEY1 }), c1, 'key 1 after the reload');
    fs.writeFileSync(path.join(dir, 'keys'), KEYFILE, { mode: 0o600 });
    spawnSync(NGINX, ['-p', `${dir}/`, '-c', CONF, '-e', ERROR_LOG, '-s', 'reload']);
    await sleep(500);
});

// --- central CSRF ---------------------------------------------------------

async function post(urlPath, headers, { method = 'POST', session = true } = {}) {
    const c = claims();
    const h = { ...(session ? cookie(jwt(c, { key: KEY1 })) : {}), 'Content-Type': 'application/json', ...headers };
    return request(urlPath, { method, headers: h, body: '{}' });
}

function assertCsrf(res, what) {
    assert.equal(res.status, 403, `${what}: ${res.status} ${res.text}`);
    assert.match(res.headers['content-type'], /^application\/json/, what);
    assert.equal(res.headers['cache-control'], 'no-store', what);
    assert.deepEqual(JSON.parse(res.text), { error: 'csrf', message: 'this request came from another site' }, what);
    assert.equal(res.headers['x-reason'], 'csrf', what);
}

test('csrf: cross-site state changes are refused with 403 and never reach the backend', async () => {
    const before = backendHits;
    const foreign = [
        [{ Origin: 'https://evil.example' }, 'a foreign Origin'],
        [{ Origin: `http://127.0.0.1:${port.other}` }, 'another port'],
        [{ Origin: 'null' }, 'Origin null'],
        [{ Origin: 'http://app.example.com.evil.example' }, 'a suffix'],
        [{ Origin: 'http://app.example.com/' }, 'an origin with a path'],
        [{ 'Sec-Fetch-Site': 'cross-site' }, 'Sec-Fetch-Site cross-site'],
        [{ 'Sec-Fetch-Site': 'cross-site', Origin: `http://127.0.0.1:${port.main}` }, 'cross-site with our Origin'],
    ];
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        for (const [headers, what] of foreign) {
            assertCsrf(await post('/backend/api/x', headers, { method }), `${method}, ${what}`);
        }
    }
    assertCsrf(await post('/backend/api/x', { Origin: 'https://evil.example' }, { session: false }),
        'no session either: csrf comes first');
    assert.equal(backendHits, before, 'the backend saw none of them');
});

test('csrf: same-origin, listed origins, same-site, no Origin and safe methods pass', async () => {
    const before = backendHits;
    const ok = [
        [{}, 'no Origin, no Sec-Fetch-Site'],
        [{ Origin: `http://127.0.0.1:${port.main}` }, 'our origin'],
        [{ Origin: 'http://app.example.com' }, 'the second origin'],
        [{ Origin: 'HTTP://APP.EXAMPLE.COM:80' }, 'the second origin, not normalised'],
        [{ 'Sec-Fetch-Site': 'same-origin' }, 'same-origin'],
        [{ 'Sec-Fetch-Site': 'same-site', Origin: 'http://app.example.com' }, 'same-site, listed'],
        [{ 'Sec-Fetch-Site': 'none' }, 'none'],
    ];
    for (const [headers, what] of ok) {
        const res = await post('/backend/api/x', headers);
        assert.equal(res.status, 200, `${what}: ${res.status} ${res.text}`);
    }
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
        const res = await request('/backend/api/x', {
            method, headers: { ...cookie(jwt(claims(), { key: KEY1 })), Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
        });
        assert.equal(res.status, 200, `${method} cross-site: ${res.status}`);
    }
    assert.equal(backendHits, before + ok.length + 3);
    const res = await post('/backend/api/x', { Origin: `http://127.0.0.1:${port.main}` }, { session: false });
    assert.equal(res.status, 401, 'same origin without a session: 401');
    assert.equal(res.headers['x-reason'], 'missing');
});

test('csrf: nano_auth_csrf off and nano_auth off leave cross-site requests alone', async () => {
    const off = await post('/nocsrf/x', { Origin: 'https://evil.example' });
    assert.equal(off.status, 200, `nano_auth_csrf off: ${off.status}`);
    const open = await post('/open/x', { Origin: 'https://evil.example' }, { session: false });
    assert.equal(open.status, 200, `nano_auth off: ${open.status}`);
    const any = await post('/any/x', { Origin: 'https://evil.example' }, { session: false });
    assertCsrf(any, 'satisfy any does not admit a cross-site request');
    const other = await request('/x', {
        method: 'POST', p: port.other,
        headers: { ...cookie(jwt(claims(), { key: OTHER })), Origin: 'https://evil.example' },
    });
    assert.equal(other.status, 200, 'a server without nano_auth_csrf');
    await sleep(100);
    assert.match(fs.readFileSync(ACCESS_LOG, 'utf8'), /POST \/backend\/api\/x 403 status=ok reason=csrf/);
});

// --- key file format 2 at start ---------------------------------------------

test('key file format 2: nginx refuses what it cannot read exactly', () => {
    const cases = [
        [`nano-keys 2\nk1 ${KEY1}\nk1 ${KEY2}\n`, 'kid "k1" is given twice'],
        [`nano-keys 2\nk1 short\n`, 'key on line 2 is shorter than 32 bytes'],
        [`nano-keys 2\nk1  ${KEY1}\n`, 'line 2: not'],
        [`nano-keys 2\nk1 ${KEY1} extra\n`, 'line 2: not'],
        [`nano-keys 2\nk1 ${KEY1}%zz\n`, 'line 2: not'],
        [`nano-keys 2\nk%0a ${KEY1}\n`, 'a kid is printable ASCII'],
        [`nano-keys 2\n${'k'.repeat(65)} ${KEY1}\n`, 'the kid is not 1 to 64'],
        ['nano-keys 2\n# only a comment\n', 'no keys'],
        [`nano-keys 2\n\tk1 ${KEY1}\n`, 'line 2: the kid is not'],
    ];
    for (const [content, needle] of cases) {
        const d = fs.mkdtempSync(path.join(dir, 'conf-'));
        fs.writeFileSync(path.join(d, 'keys'), content);
        fs.writeFileSync(path.join(d, 'nginx.conf'), `load_module ${MODULE_SO};
pid ${d}/nginx.pid;
error_log ${d}/err.log;
events {}
http {
    access_log off;
    client_body_temp_path ${d}/t; proxy_temp_path ${d}/t; fastcgi_temp_path ${d}/t;
    uwsgi_temp_path ${d}/t; scgi_temp_path ${d}/t;
    nano_auth_secret_file ${d}/keys;
    nano_auth_origin http://127.0.0.1;
    server { listen unix:${d}/s.sock; location / { return 204; } }
}
`);
        const r = spawnSync(NGINX, ['-t', '-p', `${d}/`, '-c', `${d}/nginx.conf`, '-e', `${d}/err.log`], { encoding: 'utf8' });
        assert.notEqual(r.status, 0, `accepted: ${JSON.stringify(content)}`);
        assert.ok(r.stderr.includes(needle), `${JSON.stringify(content)}: wants ${needle}:\n${r.stderr}`);
    }
});

test('key file format 2: a key of any bytes, percent-encoded, signs and encrypts', async () => {
    const c = claims();
    await assertAccepted(jwt(c, { key: KEY3 }), c, 'a key holding spaces');
    await assertAccepted(jwt(c, { key: KEY4, header: { kid: 'bin' } }), c, 'JWS, a binary key');
    const n = naClaims();
    await assertAccepted(jwe(n, { secret: KEY4 }), n, 'JWE, a binary key');
});
