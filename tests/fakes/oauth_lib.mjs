// What the fake OAuth servers (oidc.mjs, github.mjs) share: options,
// bodies, answers, client authentication as RFC 6749 2.3.1 writes it,
// the control endpoints' users and queue, and start-up.  Node 20, no npm
// packages.
import http from 'node:http';
import crypto from 'node:crypto';

// parseOptions(argv, env, spec): spec maps a flag ("--port") to
// [key, envName, default]; numbers stay numbers.  Repeating a flag whose
// default is an array adds to it.
export function parseOptions(argv, env, spec) {
    const o = {};
    for (const [, [key, envName, def]] of Object.entries(spec)) {
        const v = env[envName];
        if (Array.isArray(def)) o[key] = v ? v.split(',') : [...def];
        else if (v === undefined || v === '') o[key] = def;
        else o[key] = typeof def === 'number' ? Number(v) : v;
    }
    for (let i = 2; i < argv.length; i++) {
        const [flag, inline] = argv[i].split(/=(.*)/s);
        if (!spec[flag]) throw new Error(`unknown option ${argv[i]} (options: ${Object.keys(spec).join(' ')})`);
        const [key, , def] = spec[flag];
        const value = inline ?? argv[++i];
        if (value === undefined) throw new Error(`${flag} needs a value`);
        if (Array.isArray(def)) o[key].push(value);
        else o[key] = typeof def === 'number' ? Number(value) : value;
        if (typeof def === 'number' && !Number.isFinite(o[key])) throw new Error(`bad ${flag}: ${value}`);
    }
    return o;
}

export function readBody(req, max = 64 * 1024) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let n = 0;
        req.on('data', (c) => {
            n += c.length;
            if (n > max) {
                reject(new Error('body too large'));
                req.destroy();
                return;
            }
            chunks.push(c);
        });
        req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        req.on('error', reject);
    });
}

export function sendJson(res, status, obj, headers = {}) {
    const body = JSON.stringify(obj);
    res.writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
        ...headers,
    });
    res.end(body);
}

export function sendText(res, status, type, text, headers = {}) {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
}

export const escapeHtml = (s) => String(s).replace(/[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

// A provider's error page (no redirect: the client or its redirect_uri
// is not to be trusted).
export function errorPage(res, status, title, detail) {
    sendText(res, status, 'text/html; charset=utf-8',
        `<!doctype html><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p>`);
}

// redirectTo(res, uri, params): 302 to uri with params added to its query.
export function redirectTo(res, uri, params) {
    const u = new URL(uri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) u.searchParams.set(k, v);
    res.writeHead(302, { Location: u.toString(), 'Content-Length': 0 });
    res.end();
}

// The client's credentials: HTTP Basic (each part form-urlencoded, RFC
// 6749 2.3.1) or client_id/client_secret in the body; {id, secret,
// method} or {error} when both are used or Basic is malformed.
export function clientAuth(req, form) {
    const h = req.headers.authorization || '';
    const inBody = form.has('client_secret');
    if (/^basic /i.test(h)) {
        if (inBody) return { error: 'the client authenticated twice' };
        const raw = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
        const i = raw.indexOf(':');
        if (i < 0) return { error: 'malformed Basic credentials' };
        const dec = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
        try {
            return { id: dec(raw.slice(0, i)), secret: dec(raw.slice(i + 1)), method: 'client_secret_basic' };
        } catch {
            return { error: 'malformed Basic credentials' };
        }
    }
    if (inBody) return { id: form.get('client_id'), secret: form.get('client_secret'), method: 'client_secret_post' };
    return { id: form.get('client_id'), secret: undefined, method: 'none' };
}

export function timingSafeEqual(a, b) {
    const x = Buffer.from(String(a ?? ''));
    const y = Buffer.from(String(b ?? ''));
    return x.length === y.length && crypto.timingSafeEqual(x, y);
}

export const randomToken = (prefix, bytes = 24) => `${prefix}${crypto.randomBytes(bytes).toString('base64url')}`;

// The control side every fake has: registered users (by key), a queue
// of what the next authorizations do, counters and the last requests.
export class Control {
    constructor(keyOf) {
        this.keyOf = keyOf;
        this.users = new Map();
        this.queue = [];
        this.requests = {};
        this.last = {};
    }
    count(endpoint, info) {
        this.requests[endpoint] = (this.requests[endpoint] || 0) + 1;
        if (info !== undefined) this.last[endpoint] = info;
    }
    addUser(u) {
        this.users.set(this.keyOf(u), u);
        return u;
    }
    reset() {
        this.queue = [];
        this.requests = {};
        this.last = {};
    }
    // What the next authorization does: the queued entry, else {}.
    next() {
        return this.queue.shift() || {};
    }
    // POST /_fake/users, /_fake/next, /_fake/reset; GET /_fake/stats.
    // Returns true when it answered.
    async handle(req, res, url, makeUser) {
        if (!url.pathname.startsWith('/_fake/')) return false;
        const route = `${req.method} ${url.pathname}`;
        let body = {};
        if (req.method === 'POST') {
            const text = await readBody(req);
            try {
                body = text ? JSON.parse(text) : {};
            } catch {
                sendJson(res, 400, { error: 'not JSON' });
                return true;
            }
        }
        if (route === 'POST /_fake/users') {
            sendJson(res, 200, this.addUser(makeUser(body)));
        } else if (route === 'POST /_fake/next') {
            this.queue.push(body);
            sendJson(res, 200, { queued: this.queue.length });
        } else if (route === 'POST /_fake/reset') {
            this.reset();
            sendJson(res, 200, { ok: true });
        } else if (route === 'GET /_fake/stats') {
            sendJson(res, 200, { requests: this.requests, last: this.last, queued: this.queue.length });
        } else {
            sendJson(res, 404, { error: 'no such control' });
        }
        return true;
    }
}

// serve(handler, {host, port}, name): listens, prints {"port":N} when
// ready, stops on TERM/INT; answers 500 (logged) when handler throws.
export function serve(handler, { host, port }, name) {
    const server = http.createServer((req, res) => {
        handler(req, res).catch((e) => {
            process.stderr.write(`${name}: ${req.method} ${req.url}: ${e.stack || e}\n`);
            if (!res.headersSent) sendJson(res, 500, { error: 'fake_error', error_description: String(e.message || e) });
            else res.destroy();
        });
    });
    server.keepAliveTimeout = 5000;
    server.listen(port, host, () => {
        process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
    });
    const stop = () => {
        server.close(() => process.exit(0));
        server.closeAllConnections();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    return server;
}
