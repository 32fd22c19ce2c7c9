// Helpers for the black-box integration tests: raw HTTP requests (no
// redirects followed, paths sent as written), a cookie jar, NextAuth-style
// sign-up and sign-in, HS256 tokens made with node:crypto, and the stack
// controls scripts/test.sh exports.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { execFileSync, spawn } from 'node:child_process';
import { after } from 'node:test';

export const BASE = (process.env.NANO_TEST_BASE || 'http://127.0.0.1:18080').replace(/\/$/, '');
export const ORIGIN = new URL(BASE).origin;
export const SECRET = process.env.NANO_TEST_SECRET || '';
export const SECRET2 = process.env.NANO_TEST_SECRET2 || '';
export const STATE = process.env.NANO_TEST_STATE || '';
export const SOCK_DIR = process.env.NANO_TEST_SOCK_DIR || `${STATE}/sock`;
export const STACKCTL = process.env.NANO_TEST_STACKCTL || '';
export const SESSION_COOKIE = 'next-auth.session-token';

// The module registry (modules.conf, or NANO_MODULES_FILE): every
// module's name, kind, provider and title, in file order.
const REGISTRY_FILE = process.env.NANO_MODULES_FILE
    || new URL('../../modules.conf', import.meta.url).pathname;
export const REGISTRY = fs.readFileSync(REGISTRY_FILE, 'utf8').split('\n')
    .map((l) => l.replace(/#.*/, '').trim()).filter(Boolean)
    .map((l) => {
        const [name, kind, provider, ...title] = l.split(/\s+/);
        return { name, kind, provider, title: title.join(' ') };
    });
export const MODULES = REGISTRY.map((m) => m.name);
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
export const TITLES = Object.fromEntries(REGISTRY.map((m) => [m.name, new RegExp(escapeRe(m.title), 'i')]));

const base = new URL(BASE);

// request(method, path, {headers, body, timeout, port}) -> {status,
// headers, text, setCookies, json()}.  path is sent exactly as given; port
// (default BASE's) reaches another nginx on 127.0.0.1, a second host.
export function request(method, path, { headers = {}, body, timeout = 20000, port } = {}) {
    return new Promise((resolve, reject) => {
        const h = { ...headers };
        if (body !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-length')) {
            h['Content-Length'] = Buffer.byteLength(body);
        }
        const req = http.request({
            host: base.hostname, port: port || base.port || 80, method, path, headers: h,
            agent: false,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                const sc = res.headers['set-cookie'] || [];
                resolve({
                    status: res.statusCode,
                    headers: res.headers,
                    text,
                    setCookies: sc,
                    json: () => jsonOf(text, res.statusCode, res.headers),
                });
            });
            res.on('error', reject);
        });
        req.setTimeout(timeout, () => req.destroy(new Error(`timeout after ${timeout} ms: ${method} ${path}`)));
        req.on('error', reject);
        if (body !== undefined) req.write(body);
        req.end();
    });
}

export const get = (path, opts) => request('GET', path, opts);

// jsonOf(text, status, headers): an answer's body as JSON, or an error
// that shows what came instead (json() of request and of fcgi.mjs).
export function jsonOf(text, status, headers) {
    try {
        return JSON.parse(text);
    } catch {
        throw new Error(`not JSON (status ${status}, ${headers['content-type']}): ${text.slice(0, 300)}`);
    }
}

// parseSetCookie("a=b; Path=/; HttpOnly") -> {name, value, attrs}
// (attribute names lower-cased; flags are true).
export function parseSetCookie(line) {
    const [pair, ...rest] = line.split(';');
    const eq = pair.indexOf('=');
    const attrs = {};
    for (const a of rest) {
        const i = a.indexOf('=');
        const k = (i < 0 ? a : a.slice(0, i)).trim().toLowerCase();
        if (k) attrs[k] = i < 0 ? true : a.slice(i + 1).trim();
    }
    return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attrs };
}

// True when a Set-Cookie removes the cookie (empty value, Max-Age <= 0 or
// Expires in the past).
export function clears(c) {
    if (c.value === '') return true;
    if (c.attrs['max-age'] !== undefined && Number(c.attrs['max-age']) <= 0) return true;
    if (c.attrs.expires && Date.parse(c.attrs.expires) <= Date.now()) return true;
    return false;
}

export class Jar {
    constructor() { this.cookies = new Map(); }
    apply(res) {
        for (const line of res.setCookies) {
            const c = parseSetCookie(line);
            if (clears(c)) this.cookies.delete(c.name);
            else this.cookies.set(c.name, c.value);
        }
        return res;
    }
    set(name, value) { this.cookies.set(name, value); }
    get(name) { return this.cookies.get(name); }
    header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
    headers(extra = {}) { return this.cookies.size ? { Cookie: this.header(), ...extra } : { ...extra }; }
}

export function form(obj) {
    return new URLSearchParams(obj).toString();
}

// A new unique user (not yet registered).
export function newUser(tag = 'u') {
    const id = crypto.randomBytes(5).toString('hex');
    return {
        email: `${tag}-${id}@example.com`,
        name: `Tess ${tag} ${id}`,
        password: `pw-${id}-long-enough`,
    };
}

// The last argument of register, csrf and signIn, {port, origin}, points
// them at another site on 127.0.0.1 (default: BASE and ORIGIN).
export function register(user, headers = {}, { port, origin = ORIGIN } = {}) {
    return request('POST', '/api/register', {
        headers: { 'Content-Type': 'application/json', Origin: origin, ...headers },
        body: JSON.stringify(user),
        port,
    });
}

// csrf(jar): GET /api/auth/csrf, keeps the cookie, returns the token.
export async function csrf(jar, { port } = {}) {
    const res = jar.apply(await get('/api/auth/csrf', { headers: jar.headers(), port }));
    if (res.status !== 200) throw new Error(`/api/auth/csrf answered ${res.status}: ${res.text.slice(0, 200)}`);
    return res.json().csrfToken;
}

// signIn(jar, email, password, extra): the credentials callback as the
// sign-in form posts it; the response's cookies go into the jar.
export async function signIn(jar, email, password, extra = {}, { port, origin = ORIGIN } = {}) {
    const csrfToken = await csrf(jar, { port });
    return jar.apply(await request('POST', '/api/auth/callback/credentials', {
        headers: jar.headers({ 'Content-Type': 'application/x-www-form-urlencoded', Origin: origin }),
        body: form({ csrfToken, email, password, callbackUrl: '/', ...extra }),
        port,
    }));
}

// A registered, signed-in user: {user, jar, me} where me is /qwen/api/me.
export async function signedInUser(tag) {
    const user = newUser(tag);
    const reg = await register(user);
    if (reg.status !== 201) throw new Error(`register answered ${reg.status}: ${reg.text.slice(0, 200)}`);
    const jar = new Jar();
    const res = await signIn(jar, user.email, user.password);
    if (res.status !== 302 || !jar.get(SESSION_COOKIE)) {
        throw new Error(`sign-in answered ${res.status} without a session cookie: ${res.text.slice(0, 200)}`);
    }
    const me = await get('/qwen/api/me', { headers: jar.headers() });
    return { user, jar, me: me.json() };
}

export const b64url = (buf) => Buffer.from(buf).toString('base64url');

// jwt(payload, {key, alg, header, raw}): a compact JWS made here with
// node:crypto, as any standard library would.  alg 'none' has no signature.
export function jwt(payload, { key = SECRET, alg = 'HS256', header = {}, privateKey } = {}) {
    const h = b64url(JSON.stringify({ alg, typ: 'JWT', ...header }));
    const p = b64url(typeof payload === 'string' ? payload : JSON.stringify(payload));
    const input = `${h}.${p}`;
    let sig = '';
    if (/^HS(256|384|512)$/.test(alg)) {
        sig = crypto.createHmac(`sha${alg.slice(2)}`, key).update(input).digest('base64url');
    } else if (alg === 'RS256') {
        sig = crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url');
    } else if (alg !== 'none') {
        sig = crypto.createHmac('sha256', key).update(input).digest('base64url');
    }
    return `${input}.${sig}`;
}

// jweKey(secret, info): NextAuth v4's content key, HKDF-SHA256 of the
// secret with an empty salt.  jwe(payload, {secret, header, key}): its
// encrypted token (dir, A256GCM) made here with node:crypto; the header is
// the additional data, exactly as encoded.
export function jweKey(secret = SECRET, info = 'NextAuth.js Generated Encryption Key') {
    return Buffer.from(crypto.hkdfSync('sha256', secret, '', info, 32));
}

export function jwe(payload, { secret = SECRET, header = { alg: 'dir', enc: 'A256GCM' }, key } = {}) {
    const h = b64url(JSON.stringify(header));
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv('aes-256-gcm', key || jweKey(secret), iv);
    c.setAAD(Buffer.from(h));
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const ct = Buffer.concat([c.update(text, 'utf8'), c.final()]);
    return `${h}..${b64url(iv)}.${b64url(ct)}.${b64url(c.getAuthTag())}`;
}

export const now = () => Math.floor(Date.now() / 1000);

// claims(over): a valid session's claims (30 days), overridable.
export function claims(over = {}) {
    const t = now();
    const id = crypto.randomBytes(6).toString('hex');
    return {
        sub: `user-${id}`, email: `tok-${id}@example.com`, name: `Token ${id}`,
        iat: t, exp: t + 30 * 24 * 3600, jti: crypto.randomUUID(), ...over,
    };
}

export function decodeJwtPayload(token) {
    return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

// Location header resolved against the base: {url, relative}.
export function location(res) {
    const loc = res.headers.location;
    if (!loc) throw new Error(`no Location (status ${res.status})`);
    return { raw: loc, url: new URL(loc, BASE) };
}

export function stackctl(...args) {
    if (!STACKCTL) throw new Error('NANO_TEST_STACKCTL is not set (run through make test)');
    return execFileSync(STACKCTL, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 60000 });
}

// Whatever a file's tests do, the stack's backends apps run after it:
// each one a test left stopped is started again.
export function keepRunning(apps) {
    after(() => {
        for (const app of apps) {
            try {
                stackctl('start-backend', app);
            } catch { /* running */ }
        }
    });
}

// The pid of a stack process from its pid file, or null.
export function stackPid(name) {
    try {
        return Number(fs.readFileSync(`${STATE}/pids/${name}.pid`, 'utf8').split(' ')[0]) || null;
    } catch {
        return null;
    }
}

export function alive(pid) {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
        return false;
    }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// retry(fn, ms): calls fn until it returns truthy or ms pass; returns the
// last result.
export async function retry(fn, ms = 15000, step = 250) {
    const end = Date.now() + ms;
    let last;
    for (;;) {
        try {
            last = await fn();
            if (last) return last;
        } catch (e) {
            last = undefined;
            if (Date.now() > end) throw e;
        }
        if (Date.now() > end) return last;
        await sleep(step);
    }
}

export function isJson(res) {
    return /^application\/json\b/.test(res.headers['content-type'] || '');
}

export function isHtml(res) {
    return /^text\/html\b/.test(res.headers['content-type'] || '');
}

// A loopback port nothing listens on (bound and released here).
export function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

// Waits until something accepts on 127.0.0.1:p, or fails after ms with
// the tail of log (an nginx error log, say) when it exists.
export async function listening(p, { ms = 5000, log } = {}) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        const ok = await new Promise((resolve) => {
            const s = net.connect({ host: '127.0.0.1', port: p });
            s.once('connect', () => { s.destroy(); resolve(true); });
            s.once('error', () => resolve(false));
        });
        if (ok) return;
        await sleep(50);
    }
    throw new Error(`nothing listens on ${p}: ${log && fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''}`);
}

// One request to 127.0.0.1:p (an nginx of a test's own), 10 s at the
// most: {status, headers, text, ms}.
export function loopbackRequest(p, urlPath, { headers = {}, method = 'GET', body } = {}) {
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: p, path: urlPath, method, headers, agent: false },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => resolve({
                    status: res.statusCode, headers: res.headers,
                    text: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - t0,
                }));
            });
        req.setTimeout(10000, () => req.destroy(new Error(`timeout: ${urlPath}`)));
        req.on('error', reject);
        req.end(body);
    });
}

// The main context of a test's own nginx (startOwnNginx): this build's
// module, one foreground worker, its pid and error log in dir; the
// caller's "http {" follows.
export function ownNginxMain({ moduleSo, dir, errorLog }) {
    return `load_module ${moduleSo};
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${errorLog} info;
daemon off;
events { worker_connections 256; }`;
}

// An nginx of a test's own (no stack): the master of `-p dir/ -c conf
// -e log`, once something accepts on each of ports; stopped, when it
// does not come up, before the error is thrown.  stopOwnNginx ends it.
export async function startOwnNginx({ nginx, dir, conf, log, ports }) {
    const master = spawn(nginx, ['-p', `${dir}/`, '-c', conf, '-e', log],
        { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    master.stderr.on('data', (d) => { stderr += d; });
    master.on('exit', (code) => { if (code) console.error(`nginx exited with ${code}: ${stderr}`); });
    try {
        for (const p of ports) await listening(p, { log });
    } catch (e) {
        await stopOwnNginx(master);
        throw e;
    }
    return master;
}

// TERM, then KILL when the master is still there 5 s later.
export async function stopOwnNginx(master) {
    if (!master || master.exitCode !== null || master.signalCode !== null) return;
    const exited = new Promise((resolve) => master.once('exit', resolve));
    master.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (master.exitCode === null && master.signalCode === null) master.kill('SIGKILL');
}
