// A small FastCGI 1.0 client (the Responder role), to talk to a backend's
// socket directly, as nginx does, but with params and bodies nginx would
// never send: a CONTENT_LENGTH that does not match the body, the same
// param twice, a missing NANO_AUTH_ORIGIN.  No npm packages.
//
//   const res = await fcgiRequest(`${SOCK_DIR}/platform.sock`, {
//       params: [['REQUEST_METHOD', 'GET'], ...],   // sent in this order,
//       body: Buffer | string,                      // names may repeat
//   });
//   res.status, res.headers (lower-cased; Set-Cookie in res.setCookies),
//   res.text, res.json(), res.stderr, res.appStatus
//
// fcgiStream() is the same request with STDOUT handed on as it arrives
// (streamed replies) and a socket to close mid-reply; fcgiKept() a
// connection kept between requests, as nginx keeps one.
import net from 'node:net';
import { jsonOf } from './lib.mjs';

const VERSION = 1;
const BEGIN_REQUEST = 1;
const END_REQUEST = 3;
const PARAMS = 4;
const STDIN = 5;
const STDOUT = 6;
const STDERR = 7;
const RESPONDER = 1;
const FCGI_KEEP_CONN = 1;
const MAX_CONTENT = 65535;
const REQUEST_ID = 1;

// One record: an 8-byte header, the content, padding to a multiple of 8.
function record(type, content = Buffer.alloc(0), id = REQUEST_ID) {
    if (content.length > MAX_CONTENT) throw new Error(`record content of ${content.length} bytes`);
    const padding = (8 - (content.length % 8)) % 8;
    const h = Buffer.alloc(8);
    h.writeUInt8(VERSION, 0);
    h.writeUInt8(type, 1);
    h.writeUInt16BE(id, 2);
    h.writeUInt16BE(content.length, 4);
    h.writeUInt8(padding, 6);
    return Buffer.concat([h, content, Buffer.alloc(padding)]);
}

// A stream (PARAMS, STDIN) as records of at most 65535 bytes, then the
// empty record that ends it.
function stream(type, data) {
    const out = [];
    for (let off = 0; off < data.length; off += MAX_CONTENT) {
        out.push(record(type, data.subarray(off, off + MAX_CONTENT)));
    }
    out.push(record(type));
    return out;
}

// A length as FastCGI encodes it: one byte below 128, else four bytes
// with the high bit set.
function length(n) {
    if (n < 128) return Buffer.from([n]);
    const b = Buffer.alloc(4);
    b.writeUInt32BE((n | 0x80000000) >>> 0);
    return b;
}

export function encodeParams(params) {
    const parts = [];
    for (const [name, value] of params) {
        const n = Buffer.from(String(name));
        const v = Buffer.isBuffer(value) ? value : Buffer.from(String(value));
        parts.push(length(n.length), length(v.length), n, v);
    }
    return Buffer.concat(parts);
}

// Splits the CGI response on STDOUT into status, headers and body.
function parseStdout(buf) {
    let sep = buf.indexOf('\r\n\r\n');
    let sepLen = 4;
    const lf = buf.indexOf('\n\n');
    if (sep < 0 || (lf >= 0 && lf < sep)) {
        sep = lf;
        sepLen = 2;
    }
    if (sep < 0) throw new Error(`no end of the CGI headers in ${JSON.stringify(buf.toString('utf8').slice(0, 300))}`);
    const headers = {};
    const setCookies = [];
    let status = 200;
    for (const line of buf.subarray(0, sep).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i <= 0) continue;
        const k = line.slice(0, i).trim().toLowerCase();
        const v = line.slice(i + 1).trim();
        if (k === 'status') status = Number.parseInt(v, 10);
        if (k === 'set-cookie') setCookies.push(v);
        headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    return { status, headers, setCookies, body: buf.subarray(sep + sepLen) };
}

// The records of one request: BEGIN_REQUEST (flags: FCGI_KEEP_CONN or 0),
// its params and its stdin.
function requestRecords(params, body, flags) {
    const stdin = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const begin = Buffer.alloc(8);
    begin.writeUInt16BE(RESPONDER, 0);
    begin.writeUInt8(flags, 2);
    return Buffer.concat([
        record(BEGIN_REQUEST, begin),
        ...stream(PARAMS, encodeParams(params)),
        ...stream(STDIN, stdin),
    ]);
}

// A reader of one request's reply: feed(data) with what the socket gave;
// onStdout(data, ms) for each STDOUT record; ended is set at END_REQUEST;
// result() is fcgiRequest's answer.
function replyReader(sent, onStdout) {
    let input = Buffer.alloc(0);
    const stdout = [];
    const chunks = [];
    const stderr = [];
    const r = {
        ended: null,
        // what came after END_REQUEST (another request's records)
        rest: Buffer.alloc(0),
        feed(d) {
            input = Buffer.concat([input, d]);
            while (input.length >= 8 && !r.ended) {
                const len = input.readUInt16BE(4);
                const pad = input.readUInt8(6);
                if (input.length < 8 + len + pad) break;
                const type = input.readUInt8(1);
                const content = input.subarray(8, 8 + len);
                if (type === STDOUT && len > 0) {
                    const at = performance.now() - sent();
                    stdout.push(content);
                    chunks.push({ at, data: content });
                    if (onStdout) onStdout(content, at);
                } else if (type === STDERR) stderr.push(content);
                else if (type === END_REQUEST) {
                    r.ended = { appStatus: content.readUInt32BE(0), protocolStatus: content.readUInt8(4) };
                }
                input = input.subarray(8 + len + pad);
            }
            if (r.ended) r.rest = input;
        },
        stdoutText: () => Buffer.concat(stdout).toString('utf8').slice(0, 200),
        result() {
            const p = parseStdout(Buffer.concat(stdout));
            const text = p.body.toString('utf8');
            return {
                status: p.status,
                headers: p.headers,
                setCookies: p.setCookies,
                text,
                chunks,
                stderr: Buffer.concat(stderr).toString('utf8'),
                appStatus: r.ended.appStatus,
                protocolStatus: r.ended.protocolStatus,
                json: () => jsonOf(text, p.status, p.headers),
            };
        },
    };
    return r;
}

// fcgiStream(path, {params, body, timeout, onStdout}): one request on a
// new connection (keep-conn off: the backend closes the connection), its
// STDOUT handed to onStdout(data, ms) as each record arrives (ms since
// the request was sent).  Returns {socket, done}: destroy socket to leave
// in the middle of a reply; done resolves as fcgiRequest's result, with
// chunks: [{at, data}] (each STDOUT record and when it came).
export function fcgiStream(path, { params = [], body, timeout = 10000, onStdout } = {}) {
    const out = requestRecords(params, body, 0);
    const sock = net.connect(path);
    let sent = 0;
    const reader = replyReader(() => sent, onStdout);
    const done = new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            sock.destroy();
            reject(new Error(`FastCGI request to ${path} timed out after ${timeout} ms`));
        }, timeout);
        sock.on('connect', () => {
            sent = performance.now();
            sock.write(out);
        });
        sock.on('data', (d) => reader.feed(d));
        sock.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
        sock.on('close', () => {
            clearTimeout(timer);
            if (!reader.ended) {
                reject(new Error(`FastCGI connection to ${path} closed without END_REQUEST`
                    + ` (stdout ${JSON.stringify(reader.stdoutText())})`));
                return;
            }
            try {
                resolve(reader.result());
            } catch (e) {
                reject(e);
            }
        });
    });
    return { socket: sock, done };
}

// fcgiKept(path): a connection kept between requests, as nginx keeps one
// with fastcgi_keep_conn.  await conn.connected; then conn.request({params,
// body, timeout}) sends a request with FCGI_KEEP_CONN and resolves at its
// END_REQUEST with fcgiRequest's result (one request at a time);
// conn.closed resolves when the backend closed the connection, and
// conn.close() closes it from this side.
export function fcgiKept(path) {
    const sock = net.connect(path);
    let reader = null;
    let closedBy = null;
    const conn = {
        socket: sock,
        connected: new Promise((resolve, reject) => {
            sock.once('connect', resolve);
            sock.once('error', reject);
        }),
        closed: new Promise((resolve) => sock.on('close', () => {
            closedBy = closedBy || 'backend';
            resolve(closedBy);
        })),
        request({ params = [], body, timeout = 10000 } = {}) {
            if (reader) throw new Error('fcgiKept: one request at a time');
            let sent = 0;
            const r = replyReader(() => sent);
            reader = r;
            return new Promise((resolve, reject) => {
                const finish = (err) => {
                    clearTimeout(timer);
                    sock.off('data', onData);
                    sock.off('close', onClose);
                    reader = null;
                    if (err) reject(err);
                    else if (r.rest.length) reject(new Error(`${r.rest.length} bytes after END_REQUEST`));
                    else {
                        try {
                            resolve(r.result());
                        } catch (e) {
                            reject(e);
                        }
                    }
                };
                const onData = (d) => {
                    r.feed(d);
                    if (r.ended) finish(null);
                };
                const onClose = () => finish(new Error(`FastCGI connection to ${path} closed without END_REQUEST`
                    + ` (stdout ${JSON.stringify(r.stdoutText())})`));
                const timer = setTimeout(() => finish(new Error(`FastCGI request to ${path} timed out after ${timeout} ms`)), timeout);
                sock.on('data', onData);
                sock.on('close', onClose);
                sent = performance.now();
                sock.write(requestRecords(params, body, FCGI_KEEP_CONN));
            });
        },
        close() {
            closedBy = closedBy || 'client';
            sock.destroy();
            return conn.closed;
        },
    };
    sock.on('error', () => {});
    return conn;
}

// fcgiRequest(path, {params, body, timeout}): one request on a new
// connection, answered as a whole.
export function fcgiRequest(path, options = {}) {
    return fcgiStream(path, options).done;
}

// POST /<m>/api/generate with a JSON body straight to a module's socket,
// as nginx sends it once the gateway let user ({id, email, name})
// through from origin.
export function fcgiGenerate(sock, m, user, body, origin) {
    const text = JSON.stringify(body);
    return fcgiRequest(sock, {
        params: nginxParams({
            method: 'POST', scriptName: `/${m}`, path: '/api/generate', contentType: 'application/json',
            contentLength: Buffer.byteLength(text), origin, authOrigin: origin, user,
        }),
        body: text,
        timeout: 20000,
    });
}

// The params nginx sends for a request to a location (nginx.conf.d/
// fastcgi.conf plus SCRIPT_NAME and PATH_INFO), as [name, value] pairs.
// over: {name: value} replaces a param (undefined drops it); extra:
// [name, value] pairs appended (HTTP_COOKIE twice, for example).
export function nginxParams({
    method = 'GET', scriptName = '', path = '/', query = '', contentType = '',
    contentLength = '', origin, authOrigin, port = 80, user = {}, over = {}, extra = [],
} = {}) {
    const params = [
        ['QUERY_STRING', query],
        ['REQUEST_METHOD', method],
        ['CONTENT_TYPE', contentType],
        ['CONTENT_LENGTH', String(contentLength)],
        ['REQUEST_URI', `${scriptName}${path}${query ? `?${query}` : ''}`],
        ['SERVER_PROTOCOL', 'HTTP/1.1'],
        ['REQUEST_SCHEME', 'http'],
        ['GATEWAY_INTERFACE', 'CGI/1.1'],
        ['REMOTE_ADDR', '127.0.0.1'],
        ['SERVER_PORT', String(port)],
        ['NANO_USER_ID', user.id || ''],
        ['NANO_USER_EMAIL', user.email || ''],
        ['NANO_USER_NAME', user.name || ''],
        ['NANO_SESSION_ID', user.sid || ''],
        ['SCRIPT_NAME', scriptName],
        ['PATH_INFO', path],
    ];
    if (authOrigin !== undefined) params.push(['NANO_AUTH_ORIGIN', authOrigin]);
    if (origin !== undefined) params.push(['HTTP_ORIGIN', origin]);
    if (contentType) params.push(['HTTP_CONTENT_TYPE', contentType]);
    if (contentLength !== '') params.push(['HTTP_CONTENT_LENGTH', String(contentLength)]);
    params.push(['HTTP_HOST', `127.0.0.1:${port}`]);
    for (const [k, v] of Object.entries(over)) {
        const i = params.findIndex(([n]) => n === k);
        if (i >= 0) params.splice(i, 1);
        if (v !== undefined) params.push([k, v]);
    }
    return [...params, ...extra];
}
