#!/usr/bin/env node
// The fake providers: ONE local HTTP server speaking every wire format
// the modules use (tests/fakes/README.md lists the routes, markers and
// options), so the test stack points GEMINI_BASE_URL, ARK_BASE_URL and
// DASHSCOPE_BASE_URL at http://127.0.0.1:PORT, OPENAI_BASE_URL at
// http://127.0.0.1:PORT/v1 and XAI_BASE_URL at http://127.0.0.1:PORT/xai/v1.
//
// It checks each provider's auth header and answers a wrong key with
// that provider's real auth error, validates bodies like the real API
// (400 in the provider's error shape), and answers in the real formats:
// Gemini inlineData PNGs, Ark b64_json or a url it then serves, chat
// completions plain and as SSE (paced chunks, usage chunk, [DONE]),
// DashScope video tasks PENDING -> RUNNING -> SUCCEEDED with a WebM it
// serves.  Failures are asked for by markers in the prompt:
// "[fake:429]", "[fake:503-once]", "[fake:slow=2000]", ...
//
// Node 20, no npm packages.  Prints {"port":N} on stdout when listening.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encodePng, pngChunk } from './png.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// ---- options ----------------------------------------------------------------

function parseOptions(argv, env) {
    const o = {
        port: Number(env.FAKE_PORT ?? 0),
        host: env.FAKE_HOST || '127.0.0.1',
        key: env.FAKE_KEY || 'fake-key',
        latencyMs: Number(env.FAKE_LATENCY_MS ?? 0),
        streamIntervalMs: Number(env.FAKE_STREAM_INTERVAL_MS ?? 20),
        taskMs: Number(env.FAKE_TASK_MS ?? 1500),
        imageSize: env.FAKE_IMAGE_SIZE || '64x64',
        imageBytes: Number(env.FAKE_IMAGE_BYTES ?? 0),
        videoFile: env.FAKE_VIDEO_FILE || '',
    };
    const names = {
        '--port': 'port', '--host': 'host', '--key': 'key', '--latency': 'latencyMs',
        '--stream-interval': 'streamIntervalMs', '--task-ms': 'taskMs',
        '--image-size': 'imageSize', '--image-bytes': 'imageBytes', '--video-file': 'videoFile',
    };
    for (let i = 2; i < argv.length; i++) {
        const [flag, inline] = argv[i].split(/=(.*)/s);
        const name = names[flag];
        if (!name) {
            throw new Error(`unknown option ${argv[i]} (options: ${Object.keys(names).join(' ')})`);
        }
        const value = inline ?? argv[++i];
        if (value === undefined) throw new Error(`${flag} needs a value`);
        o[name] = typeof o[name] === 'number' ? Number(value) : value;
    }
    for (const k of ['port', 'latencyMs', 'streamIntervalMs', 'taskMs', 'imageBytes']) {
        if (!Number.isFinite(o[k]) || o[k] < 0) throw new Error(`bad ${k}: ${o[k]}`);
    }
    if (!/^\d+x\d+$/.test(o.imageSize)) throw new Error(`bad image size ${o.imageSize} (WxH)`);
    return o;
}

// ---- media ------------------------------------------------------------------

// A real PNG (RGB gradient) of w x h; padded with a private ancillary
// chunk to exactly `bytes` when that is larger.
export function makePng(w, h, bytes = 0) {
    const png = encodePng(w, h, (x, y) => [
        Math.round((255 * x) / Math.max(1, w - 1)),
        Math.round((255 * y) / Math.max(1, h - 1)),
        160,
    ]);
    const pad = bytes - png.length - 12;
    // the last 12 bytes are IEND: the padding goes before it
    return pad >= 0
        ? Buffer.concat([png.subarray(0, -12), pngChunk('nbPd', Buffer.alloc(pad, 0x2e)), png.subarray(-12)])
        : png;
}

// SOI, a JFIF APP0, then a scan (SOS) and EOI with no frame header (SOFn)
// before it: a JPEG by its first bytes, without a size.
const FRAMELESS_JPEG = Buffer.from([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
    0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x12, 0x34, 0x56, 0xff, 0xd9,
]);

function loadVideo(file) {
    if (file) return fs.readFileSync(file);
    const cli = path.join(ROOT, 'build/bin/nano-offline');
    if (fs.existsSync(cli)) {
        const out = path.join(os.tmpdir(), `fake-providers-${process.pid}.webm`);
        try {
            execFileSync(cli, ['video', '--prompt', 'fake provider video', '--seconds', '1',
                '--size', '320x180', '--out', out], { stdio: 'ignore', timeout: 20000 });
            return fs.readFileSync(out);
        } catch {
            // fall through to the stand-in
        } finally {
            fs.rmSync(out, { force: true });
        }
    }
    // A stand-in: an EBML header only (served as video/webm).
    return Buffer.from('1a45dfa3a34286810142f7810142f2810442f381084282847765626d', 'hex');
}

// ---- helpers ----------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Markers in a prompt: "[fake:429]", "[fake:slow=2000]".
function markers(text) {
    const m = new Map();
    for (const x of String(text ?? '').matchAll(/\[fake:([a-z0-9-]+)(?:=(\d+))?\]/g)) {
        m.set(x[1], x[2] === undefined ? true : Number(x[2]));
    }
    return m;
}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v) => Number.isInteger(v);
const b64ok = (s) => typeof s === 'string' && s.length > 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;
const mask = (key) => (key.length > 4 ? `${key.slice(0, 2)}***${key.slice(-2)}` : '***');
const rid = () => crypto.randomUUID();

function bearer(req) {
    const h = req.headers.authorization || '';
    return h.startsWith('Bearer ') ? h.slice(7) : null;
}

function readBody(req, max = 64 * 1024 * 1024) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let n = 0;
        req.on('data', (c) => {
            n += c.length;
            if (n > max) {
                reject(new Error('too large'));
                req.destroy();
                return;
            }
            chunks.push(c);
        });
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
    });
}

function send(res, status, body, headers = {}) {
    const data = Buffer.isBuffer(body) ? body
        : typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length, ...headers });
    res.end(data);
}

// Answers status with the whole body's Content-Length, sends only its
// first quarter, then resets the connection: an answer cut mid-body
// ("[fake:cut-download]", "[fake:cut-answer]").  The reset waits a little
// so that what was sent arrives before it.
function sendCut(res, status, data, headers) {
    res.writeHead(status, { ...headers, 'Content-Length': data.length });
    res.write(data.subarray(0, Math.max(1, Math.floor(data.length / 4))), () => {
        setTimeout(() => {
            const sock = res.socket;
            if (sock && typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
            else sock?.destroy();
        }, 50);
    });
}

// Answers status with no Content-Length (the body ends when the
// connection does), sends the first quarter of data and closes cleanly: a
// download cut short that the transfer cannot tell from a whole one
// ("[fake:short-download]").
function sendShort(res, status, data, type) {
    const head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: ${type}\r\nConnection: close\r\n\r\n`;
    res.socket.end(Buffer.concat([Buffer.from(head), data.subarray(0, Math.max(1, Math.floor(data.length / 4)))]));
}

// How many downloads of a file a prompt's "[fake:cut-download]" (or
// another marker's) cuts: every one, or the first N of
// "[fake:cut-download=N]".
function cutsOf(marks, name = 'cut-download') {
    if (!marks.has(name)) return 0;
    const n = marks.get(name);
    return n === true ? Infinity : n;
}

// Where a file is downloaded from: the file itself, or, with
// "[fake:redirect-download=N]", a chain of N redirects ending at it, as
// a CDN or an object store's signed address may answer.
function fileUrl(base, name, marks) {
    const hops = Number(marks.get('redirect-download') ?? 0);
    return hops > 0 ? `${base}/_fake/redirect/${hops}/${name}` : `${base}/_fake/files/${name}`;
}

// ---- the error shapes -------------------------------------------------------

const GEMINI_STATUS = {
    400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED',
    500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

// Gemini reads a request as a protocol buffer: a field name it does not
// know (lowerCamel or snake_case) is a 400, not ignored.  Each message's
// known fields, lowerCamel.
const GEMINI_FIELDS = {
    request: ['model', 'contents', 'tools', 'toolConfig', 'safetySettings', 'systemInstruction',
        'generationConfig', 'cachedContent'],
    content: ['role', 'parts'],
    part: ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode',
        'codeExecutionResult', 'thought', 'thoughtSignature', 'videoMetadata'],
    blob: ['mimeType', 'data'],
    generationConfig: ['stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema',
        'responseModalities', 'candidateCount', 'maxOutputTokens', 'temperature', 'topP', 'topK', 'seed',
        'presencePenalty', 'frequencyPenalty', 'responseLogprobs', 'logprobs', 'enableEnhancedCivicAnswers',
        'speechConfig', 'thinkingConfig', 'imageConfig', 'mediaResolution'],
    imageConfig: ['aspectRatio', 'imageSize'],
};
const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

// The first field of obj that message does not have, as Gemini words
// it ('Unknown name "x" at \'generation_config\''), or null.
function geminiUnknown(obj, message, at) {
    if (!isObj(obj)) return null;
    const bad = Object.keys(obj).find((k) => !GEMINI_FIELDS[message].includes(camel(k)));
    if (bad === undefined) return null;
    return { field: at, description: `Invalid JSON payload received. Unknown name "${bad}"${at ? ` at '${at}'` : ''}: Cannot find field.` };
}

// The first unknown name anywhere in a generateContent request, or null.
function geminiRequestUnknown(j) {
    if (!isObj(j)) return null;
    const contents = Array.isArray(j.contents) ? j.contents : [];
    for (const [i, c] of contents.entries()) {
        const inContent = geminiUnknown(c, 'content', `contents[${i}]`);
        if (inContent) return inContent;
        for (const [k, pt] of (Array.isArray(c?.parts) ? c.parts : []).entries()) {
            const at = `contents[${i}].parts[${k}]`;
            const inPart = geminiUnknown(pt, 'part', at)
                ?? geminiUnknown(pt?.inlineData ?? pt?.inline_data, 'blob', `${at}.inline_data`);
            if (inPart) return inPart;
        }
    }
    const gc = j.generationConfig ?? j.generation_config;
    return geminiUnknown(j, 'request', '')
        ?? geminiUnknown(gc, 'generationConfig', 'generation_config')
        ?? geminiUnknown(gc?.imageConfig ?? gc?.image_config, 'imageConfig', 'generation_config.image_config');
}

function geminiError(res, code, message, details) {
    send(res, code, { error: { code, message, status: GEMINI_STATUS[code] || 'UNKNOWN', ...(details ? { details } : {}) } });
}

function openaiError(res, status, message, type, code = null, param = null, headers = {}) {
    send(res, status, { error: { message, type, param, code } }, headers);
}

function dashscopeChatError(res, status, message, type, code = null, headers = {}) {
    send(res, status, { error: { message, type, param: null, code }, request_id: rid() }, headers);
}

function xaiError(res, status, code, error, headers = {}) {
    send(res, status, { code, error }, headers);
}

function arkError(res, status, code, message, type, param = '', headers = {}) {
    send(res, status, { error: { code, message: `${message} Request id: ${rid()}`, param, type } }, headers);
}

function dashscopeError(res, status, code, message, headers = {}) {
    send(res, status, { request_id: rid(), code, message }, headers);
}

// ---- the server -------------------------------------------------------------

export function createFakeProviders(opts) {
    const [imgW, imgH] = opts.imageSize.split('x').map(Number);
    const png = makePng(imgW, imgH, opts.imageBytes);
    const video = loadVideo(opts.videoFile);
    const files = new Map();          // name -> {type, data}
    const tasks = new Map();          // task id -> {created, marks, size, duration}
    const onceSeen = new Set();       // "endpoint|prompt" of -once markers
    const hanging = new Set();        // responses never answered
    const stats = { requests: {}, inFlight: 0, maxInFlight: 0, filesInFlight: 0, maxFilesInFlight: 0, last: {}, times: {} };
    let port = 0;
    const base = () => `http://${opts.host}:${port}`;

    function count(endpoint, req, body) {
        stats.requests[endpoint] = (stats.requests[endpoint] || 0) + 1;
        // when the last 32 came (ms), so a test can read a retry's wait
        stats.times[endpoint] = [...(stats.times[endpoint] || []), Date.now()].slice(-32);
        const headers = { ...req.headers };
        // which credential came, never its value: a download must carry none
        const authScheme = req.headers.authorization ? req.headers.authorization.split(' ')[0]
            : req.headers['x-goog-api-key'] ? 'x-goog-api-key' : null;
        delete headers.authorization;
        delete headers['x-goog-api-key'];
        let json = null;
        try {
            json = body && body.length ? JSON.parse(body.toString('utf8')) : null;
        } catch {
            json = null;
        }
        stats.last[endpoint] = { method: req.method, url: req.url, headers, authScheme, body: json };
    }

    // Common failure markers; returns true when it answered (or hangs).
    async function inject(endpoint, marks, res, errors) {
        const slow = marks.get('slow');
        if (typeof slow === 'number') await sleep(slow);
        if (opts.latencyMs) await sleep(opts.latencyMs);
        if (marks.has('hang')) {
            hanging.add(res);
            res.on('close', () => hanging.delete(res));
            return true;
        }
        if (marks.has('auth')) { errors.auth(); return true; }
        if (marks.has('429') || marks.has('429-date')) { errors.quota(); return true; }
        if (marks.has('500')) { errors.server(500); return true; }
        if (marks.has('503-once')) {
            const k = `${endpoint}|${marks.get('_prompt')}`;
            if (!onceSeen.has(k)) {
                onceSeen.add(k);
                errors.server(503);
                return true;
            }
        }
        if (marks.has('drop-once')) {
            // taken, then the connection closes before any answer: the
            // answer is lost, not the request (a client that sends it
            // again has the provider act twice)
            const k = `${endpoint}|drop|${marks.get('_prompt')}`;
            if (!onceSeen.has(k)) {
                onceSeen.add(k);
                res.socket?.destroy();
                return true;
            }
        }
        if (marks.has('bad-request')) { errors.bad('The request is not valid ([fake:bad-request]).'); return true; }
        if (marks.has('malformed')) {
            send(res, 200, '{"this is": not json', { 'Content-Type': 'application/json' });
            return true;
        }
        return false;
    }

    // ---- Gemini ---------------------------------------------------------
    async function gemini(req, res, model, url) {
        const body = await readBody(req);
        count('gemini.generateContent', req, body);
        const key = req.headers['x-goog-api-key'] ?? url.searchParams.get('key');
        if (!key) {
            return geminiError(res, 403, 'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.');
        }
        const badKey = () => geminiError(res, 400, 'API key not valid. Please pass a valid API key.', [
            { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
        ]);
        if (key !== opts.key) return badKey();
        let j;
        try {
            j = JSON.parse(body.toString('utf8'));
        } catch {
            return geminiError(res, 400, 'Invalid JSON payload received. Unexpected token.');
        }
        if (!/image/.test(model)) {
            return geminiError(res, 404, `models/${model} is not found for API version v1beta, or is not supported for generateContent.`);
        }
        // unknown names, as the real API refuses them (every one a
        // client could misspell in what it sends)
        const unknown = geminiRequestUnknown(j);
        if (unknown) {
            return geminiError(res, 400, unknown.description, [
                { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [unknown] },
            ]);
        }
        const badRole = Array.isArray(j.contents) && j.contents.find((c) => isObj(c) && c.role !== undefined && !['user', 'model'].includes(c.role));
        if (badRole) return geminiError(res, 400, 'Please use a valid role: user, model.');
        const parts = isObj(j) && Array.isArray(j.contents) && isObj(j.contents[0]) && Array.isArray(j.contents[0].parts)
            ? j.contents[0].parts : null;
        if (!parts || parts.length === 0) {
            return geminiError(res, 400, '* GenerateContentRequest.contents: contents is not specified');
        }
        let prompt = '';
        for (const [i, p] of parts.entries()) {
            const inl = p.inline_data ?? p.inlineData;
            if (typeof p.text === 'string') {
                prompt += p.text;
            } else if (isObj(inl)) {
                const mime = inl.mime_type ?? inl.mimeType;
                if (!['image/png', 'image/jpeg', 'image/webp', 'image/heic', 'image/heif'].includes(mime)) {
                    return geminiError(res, 400, `* GenerateContentRequest.contents[0].parts[${i}].inline_data.mime_type: unsupported MIME type: ${mime}`);
                }
                if (!b64ok(inl.data)) {
                    return geminiError(res, 400, `Invalid value at 'contents[0].parts[${i}].inline_data.data' (TYPE_BYTES), Base64 decoding failed`);
                }
            } else {
                return geminiError(res, 400, `* GenerateContentRequest.contents[0].parts[${i}].data: required oneof field 'data' must have one initialized field`);
            }
        }
        const gc = j.generationConfig;
        if (gc !== undefined && !isObj(gc)) return geminiError(res, 400, 'Invalid value at \'generation_config\'');
        const mods = gc?.responseModalities ?? gc?.response_modalities;
        if (mods !== undefined && (!Array.isArray(mods) || mods.some((m) => !['TEXT', 'IMAGE'].includes(m)))) {
            return geminiError(res, 400, 'Invalid value at \'generation_config.response_modalities\'');
        }
        // int32, as the proto has it
        if (gc?.seed !== undefined && (!isInt(gc.seed) || gc.seed < -2147483648 || gc.seed > 2147483647)) {
            return geminiError(res, 400, `Invalid value at 'generation_config.seed' (TYPE_INT32), ${JSON.stringify(gc.seed)}`);
        }
        const ratio = gc?.imageConfig?.aspectRatio ?? gc?.image_config?.aspect_ratio;
        if (ratio !== undefined && !['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'].includes(ratio)) {
            return geminiError(res, 400, '* GenerateContentRequest.generation_config.image_config.aspect_ratio: unsupported aspect ratio');
        }
        const marks = markers(prompt);
        marks.set('_prompt', prompt);
        stats.inFlight++;
        stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
        try {
            const done = await inject('gemini.generateContent', marks, res, {
                auth: badKey,
                quota: () => geminiError(res, 429, 'You exceeded your current quota, please check your plan and billing details.', [
                    { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests' }] },
                    // "[fake:429=N]": Gemini asks for N seconds
                    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${marks.get('429') === true ? 1 : marks.get('429')}s` },
                ]),
                server: (s) => geminiError(res, s, s === 503 ? 'The model is overloaded. Please try again later.' : 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'),
                bad: (m) => geminiError(res, 400, m),
            });
            if (done) return;
            const usage = { promptTokenCount: 9, candidatesTokenCount: 1290, totalTokenCount: 1299 };
            if (marks.has('block-prompt')) {
                return send(res, 200, { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: usage, modelVersion: model });
            }
            if (marks.has('safety')) {
                return send(res, 200, { candidates: [{ content: { role: 'model', parts: [] }, finishReason: 'IMAGE_SAFETY', index: 0 }], usageMetadata: usage, modelVersion: model });
            }
            if (marks.has('no-image')) {
                return send(res, 200, { candidates: [{ content: { role: 'model', parts: [{ text: 'I can describe it, but here is no picture.' }] }, finishReason: 'STOP', index: 0 }], usageMetadata: usage, modelVersion: model });
            }
            // "[fake:frameless-jpeg]": a JPEG whose scan comes with no frame
            // header before it (no size, nothing a viewer can show)
            const inline = marks.has('frameless-jpeg')
                ? { mimeType: 'image/jpeg', data: FRAMELESS_JPEG.toString('base64') }
                : { mimeType: 'image/png', data: png.toString('base64') };
            const answer = {
                candidates: [{
                    content: { role: 'model', parts: [{ text: 'Here is the image you asked for.' }, { inlineData: inline }] },
                    finishReason: 'STOP', index: 0,
                }],
                usageMetadata: usage, modelVersion: model, responseId: rid(),
            };
            if (marks.has('cut-answer')) {
                return sendCut(res, 200, Buffer.from(JSON.stringify(answer)), { 'Content-Type': 'application/json; charset=UTF-8' });
            }
            send(res, 200, answer);
        } finally {
            stats.inFlight--;
        }
    }

    // ---- Ark ------------------------------------------------------------
    function arkSize(size) {
        const named = { '1K': '1024x1024', '2K': '2048x2048', '4K': '4096x4096' };
        if (named[size]) return named[size];
        const m = /^([1-9]\d*)x([1-9]\d*)$/.exec(size ?? '');
        if (!m) return null;
        const w = Number(m[1]);
        const h = Number(m[2]);
        const px = w * h;
        if (px < 1280 * 720 || px > 4096 * 4096 || w > 16 * h || h > 16 * w) return null;
        return `${w}x${h}`;
    }

    async function ark(req, res) {
        const body = await readBody(req);
        count('ark.images', req, body);
        const key = bearer(req);
        const badKey = () => arkError(res, 401, 'AuthenticationError', 'The API key or AK/SK in the request is missing or invalid.', 'Unauthorized');
        if (key !== opts.key) return badKey();
        let j;
        try {
            j = JSON.parse(body.toString('utf8'));
        } catch {
            return arkError(res, 400, 'InvalidParameter', 'The request body is not valid JSON.', 'BadRequest');
        }
        const bad = (param, why) => arkError(res, 400, 'InvalidParameter', `The parameter \`${param}\` specified in the request is not valid: ${why}.`, 'BadRequest', param);
        if (!isObj(j)) return bad('body', 'must be an object');
        if (typeof j.model !== 'string' || !j.model) return arkError(res, 400, 'MissingParameter', 'The request failed because it is missing one or multiple required parameters: model.', 'BadRequest', 'model');
        if (!/seedream/.test(j.model)) return arkError(res, 404, 'InvalidEndpointOrModel.NotFound', `The model or endpoint ${j.model} does not exist or you do not have access to it.`, 'NotFound', 'model');
        if (typeof j.prompt !== 'string' || !j.prompt.trim()) return arkError(res, 400, 'MissingParameter', 'The request failed because it is missing one or multiple required parameters: prompt.', 'BadRequest', 'prompt');
        const size = arkSize(j.size ?? '2048x2048');
        if (!size) return bad('size', 'must be 1K, 2K, 4K or WxH within [1280x720, 4096x4096] and aspect ratio [1/16, 16]');
        const fmt = j.response_format ?? 'url';
        if (!['url', 'b64_json'].includes(fmt)) return bad('response_format', 'must be url or b64_json');
        if (j.watermark !== undefined && typeof j.watermark !== 'boolean') return bad('watermark', 'must be a boolean');
        if (j.seed !== undefined && (!isInt(j.seed) || j.seed < -1 || j.seed > 2147483647)) return bad('seed', 'must be an integer in [-1, 2147483647]');
        if (j.sequential_image_generation !== undefined && !['auto', 'disabled'].includes(j.sequential_image_generation)) {
            return bad('sequential_image_generation', 'must be auto or disabled');
        }
        if (j.image !== undefined) {
            const imgs = Array.isArray(j.image) ? j.image : [j.image];
            if (imgs.length === 0 || imgs.length > 10 || imgs.some((s) => typeof s !== 'string' || !/^(https?:\/\/|data:image\/(png|jpeg|webp|bmp|tiff|gif);base64,)/.test(s))) {
                return bad('image', 'must be an image URL or a data URI');
            }
        }
        const marks = markers(j.prompt);
        marks.set('_prompt', j.prompt);
        stats.inFlight++;
        stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
        try {
            const done = await inject('ark.images', marks, res, {
                auth: badKey,
                quota: () => arkError(res, 429, 'RateLimitExceeded.EndpointIPMExceeded', 'The request has exceeded the images per minute (IPM) limit of the endpoint.', 'TooManyRequests', '', { 'Retry-After': '1' }),
                server: (s) => arkError(res, s, s === 503 ? 'ServiceUnavailable' : 'InternalServiceError', 'The service encountered an unexpected internal error.', 'InternalServerError'),
                bad: (m) => arkError(res, 400, 'InvalidParameter', m, 'BadRequest'),
            });
            if (done) return;
            if (marks.has('safety')) {
                return arkError(res, 400, 'InputTextSensitiveContentDetected', 'The request failed because the input text may contain sensitive information.', 'BadRequest');
            }
            if (marks.has('quota-exhausted')) {
                return arkError(res, 429, 'QuotaExceeded', 'The request has exceeded the quota of your account. Please top up or raise the quota.', 'TooManyRequests');
            }
            if (marks.has('safety-output')) {
                return send(res, 200, { model: j.model, created: Math.floor(Date.now() / 1000), data: [{ error: { code: 'OutputImageSensitiveContentDetected', message: 'The request failed because the output image may contain sensitive information.' } }], usage: { generated_images: 0, output_tokens: 0, total_tokens: 0 } });
            }
            let item;
            // "[fake:image-bytes=N]": the PNG padded to N bytes (answers
            // past the module's cap)
            const image = marks.has('image-bytes') ? makePng(imgW, imgH, marks.get('image-bytes')) : png;
            // "[fake:url]": a url whatever was asked, as an Ark-compatible
            // endpoint that ignores response_format may answer.
            if (fmt === 'url' || marks.has('url')) {
                const name = `${rid()}.png`;
                files.set(name, { type: 'image/png', data: image, cuts: cutsOf(marks), shorts: cutsOf(marks, 'short-download'), slow: Number(marks.get('slow-download') ?? 0) });
                item = { url: fileUrl(base(), name, marks), size };
            } else {
                item = { b64_json: image.toString('base64'), size };
            }
            send(res, 200, { model: j.model, created: Math.floor(Date.now() / 1000), data: [item], usage: { generated_images: 1, output_tokens: 16384, total_tokens: 16384 } });
        } finally {
            stats.inFlight--;
        }
    }

    // ---- chat (OpenAI, xAI, DashScope compatible mode) ------------------
    const chatErrors = {
        openai: {
            auth: (res, key) => openaiError(res, 401, `Incorrect API key provided: ${mask(key || '')}. You can find your API key at https://platform.openai.com/account/api-keys.`, 'invalid_request_error', 'invalid_api_key'),
            bad: (res, m, param = null) => openaiError(res, 400, m, 'invalid_request_error', null, param),
            quota: (res, ra = 1, header = String(ra)) => openaiError(res, 429, `Rate limit reached for requests. Please try again in ${ra}s.`, 'requests', 'rate_limit_exceeded', null, { 'retry-after': header, 'x-ratelimit-remaining-requests': '0' }),
            server: (res, s) => openaiError(res, s, 'The server had an error while processing your request. Sorry about that!', 'server_error'),
            safety: (res) => openaiError(res, 400, 'Your request was rejected as a result of our safety system.', 'invalid_request_error', 'content_policy_violation'),
            model: (res, m) => openaiError(res, 404, `The model \`${m}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found'),
            spent: (res) => openaiError(res, 429, 'You exceeded your current quota, please check your plan and billing details.', 'insufficient_quota', 'insufficient_quota'),
        },
        xai: {
            auth: (res, key) => xaiError(res, 400, 'Client specified an invalid argument', `Incorrect API key provided: ${mask(key || '')}. You can obtain an API key from https://console.x.ai.`),
            bad: (res, m) => xaiError(res, 400, 'Client specified an invalid argument', m),
            quota: (res, ra = 1, header = String(ra)) => xaiError(res, 429, 'Too many requests', 'Your team has reached its rate limit. Please try again later.', { 'retry-after': header }),
            server: (res, s) => xaiError(res, s, s === 503 ? 'Service unavailable' : 'Internal error', 'The service is currently unavailable.'),
            safety: (res) => xaiError(res, 400, 'Client specified an invalid argument', 'Content violates usage guidelines. Failed check: SAFETY_CHECK_TYPE_CSAM'),
            model: (res, m) => xaiError(res, 404, 'Some requested entity was not found', `The model ${m} does not exist or your team does not have access to it.`),
            spent: (res) => xaiError(res, 403, 'The caller does not have permission to execute the specified operation', `Your team ${rid()} has either used all available credits or reached its monthly spending limit. To continue making API requests, please purchase more credits or raise your spending limit.`),
        },
        dashscope: {
            auth: (res) => dashscopeChatError(res, 401, 'Incorrect API key provided. ', 'invalid_request_error', 'invalid_api_key'),
            bad: (res, m) => dashscopeChatError(res, 400, m, 'invalid_request_error', 'invalid_parameter_error'),
            quota: (res, ra = 1, header = String(ra)) => dashscopeChatError(res, 429, 'Requests rate limit exceeded, please try again later.', 'limit_requests', 'limit_requests', { 'retry-after': header }),
            server: (res, s) => dashscopeChatError(res, s, 'An internal error has occured, please try again later or contact service support.', 'internal_error', 'internal_error'),
            safety: (res) => dashscopeChatError(res, 400, 'Input data may contain inappropriate content.', 'data_inspection_failed', 'data_inspection_failed'),
            model: (res, m) => dashscopeChatError(res, 404, `The model \`${m}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found'),
            spent: (res) => dashscopeChatError(res, 400, 'Access denied, please make sure your account is in good standing.', 'Arrearage', 'Arrearage'),
        },
    };

    // What OpenAI's chat completions take; any other name is refused
    // there ("Unrecognized request argument supplied"), not ignored.
    const OPENAI_CHAT_FIELDS = ['model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens',
        'temperature', 'top_p', 'n', 'stop', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs',
        'top_logprobs', 'user', 'seed', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format',
        'service_tier', 'store', 'metadata', 'modalities', 'audio', 'prediction', 'reasoning_effort',
        'web_search_options', 'verbosity', 'prompt_cache_key', 'safety_identifier', 'functions', 'function_call'];

    function chatValidate(flavor, j) {
        if (!isObj(j)) return ['The request body must be a JSON object.', null];
        const unknown = flavor === 'openai' && Object.keys(j).find((k) => !OPENAI_CHAT_FIELDS.includes(k));
        if (unknown) return [`Unrecognized request argument supplied: ${unknown}`, null];
        if (typeof j.model !== 'string' || !j.model) return ['you must provide a model parameter', 'model'];
        if (!Array.isArray(j.messages) || j.messages.length === 0) {
            return ["Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'messages'];
        }
        for (const [i, m] of j.messages.entries()) {
            if (!isObj(m) || !['system', 'user', 'assistant', 'developer', 'tool'].includes(m.role)) {
                return [`Invalid value for 'messages[${i}].role'.`, `messages[${i}].role`];
            }
            if (typeof m.content !== 'string' && !Array.isArray(m.content)) {
                return [`Invalid type for 'messages[${i}].content': expected a string or an array.`, `messages[${i}].content`];
            }
        }
        if (j.stream !== undefined && typeof j.stream !== 'boolean') return ["Invalid type for 'stream': expected a boolean.", 'stream'];
        if (j.stream_options !== undefined && j.stream !== true) {
            return ["The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options'];
        }
        for (const k of ['max_tokens', 'max_completion_tokens']) {
            if (j[k] !== undefined && (!isInt(j[k]) || j[k] < 1)) return [`Invalid '${k}': integer below minimum value. Expected a value >= 1.`, k];
        }
        if (j.max_tokens !== undefined && j.max_completion_tokens !== undefined && flavor === 'openai') {
            return ["Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.", 'max_tokens'];
        }
        if (j.temperature !== undefined && (typeof j.temperature !== 'number' || j.temperature < 0 || j.temperature > 2)) {
            return ["Invalid 'temperature': decimal above maximum value. Expected a value <= 2.", 'temperature'];
        }
        return null;
    }

    function chatReply(model, prompt) {
        const said = String(prompt).replace(/\[fake:[^\]]*\]/g, '').trim().slice(0, 60);
        return `Fake reply from ${model}: you said "${said}". This answer comes from the test fake, one word at a time.`;
    }

    async function chat(flavor, req, res) {
        const endpoint = `chat.${flavor}`;
        const body = await readBody(req);
        count(endpoint, req, body);
        const E = chatErrors[flavor];
        const key = bearer(req);
        if (key !== opts.key) return E.auth(res, key);
        let j;
        try {
            j = JSON.parse(body.toString('utf8'));
        } catch {
            return E.bad(res, 'We could not parse the JSON body of your request.');
        }
        const invalid = chatValidate(flavor, j);
        if (invalid) return E.bad(res, invalid[0], invalid[1]);
        if (/missing|unknown/.test(j.model)) return E.model(res, j.model);
        const last = [...j.messages].reverse().find((m) => m.role === 'user');
        const prompt = last ? (typeof last.content === 'string' ? last.content : JSON.stringify(last.content)) : '';
        const marks = markers(j.messages.map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n'));
        marks.set('_prompt', prompt);
        stats.inFlight++;
        stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
        try {
            const done = await inject(endpoint, marks, res, {
                auth: () => E.auth(res, key), server: (s) => E.server(res, s),
                // "[fake:429-date=N]": Retry-After as an HTTP-date N s ahead
                quota: () => (marks.has('429-date')
                    ? E.quota(res, marks.get('429-date'), new Date(Date.now() + marks.get('429-date') * 1000).toUTCString())
                    : E.quota(res, marks.get('429') === true ? 1 : marks.get('429'))),
                bad: (m) => E.bad(res, m),
            });
            if (done) return;
            if (marks.has('safety')) return E.safety(res);
            if (marks.has('quota-exhausted')) return E.spent(res);
            let text = chatReply(j.model, prompt);
            // "[fake:odd-unicode]": escapes JSON allows and strict parsers
            // refuse: a lone surrogate (a text cut by UTF-16 units) and a NUL
            if (marks.has('odd-unicode')) text = text.replace('This answer', 'This \ud83d answer\u0000');
            const words = text.split(/(?=\s)/);
            const usage = { prompt_tokens: prompt.split(/\s+/).filter(Boolean).length + 3, completion_tokens: words.length, total_tokens: 0 };
            usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
            const id = `chatcmpl-${rid()}`;
            const created = Math.floor(Date.now() / 1000);
            const finish = marks.has('content-filter') ? 'content_filter' : 'stop';
            if (!j.stream) {
                const answer = {
                    id, object: 'chat.completion', created, model: j.model,
                    choices: [{ index: 0, message: { role: 'assistant', content: marks.has('content-filter') ? words.slice(0, 3).join('') : text }, logprobs: null, finish_reason: finish }],
                    ...(marks.has('no-usage') ? {} : { usage }), system_fingerprint: 'fp_fake',
                };
                if (marks.has('cut-answer')) return sendCut(res, 200, Buffer.from(JSON.stringify(answer)), { 'Content-Type': 'application/json' });
                return send(res, 200, answer);
            }
            await streamChat(res, j, { id, created, words, usage, finish, marks, key, flavor });
        } finally {
            stats.inFlight--;
        }
    }

    async function streamChat(res, j, { id, created, words, usage, finish, marks, key, flavor }) {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
        const chunk = (delta, finishReason = null) => ({
            id, object: 'chat.completion.chunk', created, model: j.model, system_fingerprint: 'fp_fake',
            choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        });
        const write = (obj) => {
            if (!res.destroyed) res.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`);
        };
        write(chunk({ role: 'assistant', content: '' }));
        res.write(': fake keep-alive comment\n\n');
        // "[fake:think=N]": a reasoning model's thoughts for N ms before
        // the answer, as grok-3-mini streams them (reasoning_content, no
        // content): bytes every 500 ms, and no text
        if (typeof marks.get('think') === 'number') {
            for (const end = Date.now() + marks.get('think'); Date.now() < end && !res.destroyed;) {
                write(chunk({ content: '', reasoning_content: 'Thinking it over. ' }));
                await sleep(500);
            }
        }
        const upto = marks.has('content-filter') ? 3 : words.length;
        // "[fake:cut=N]", "[fake:error-in-stream=N]": after N words (0: before any)
        const at = (mark, dflt) => (marks.get(mark) === true ? dflt : marks.get(mark));
        for (let i = 0; i < upto; i++) {
            if (res.destroyed) return;
            if (opts.streamIntervalMs) await sleep(opts.streamIntervalMs);
            if (marks.has('cut') && i === at('cut', Math.floor(words.length / 2))) {
                // half a frame, then the connection drops
                res.write(`data: {"id":"${id}","choices":[{"index":0,"delta":{"content":"`);
                res.socket?.destroy();
                return;
            }
            if (marks.has('error-in-stream') && i === at('error-in-stream', 2)) {
                write({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } });
                res.end();
                return;
            }
            if (marks.has('key-in-stream') && i === 2) {
                // an error event that quotes the caller's key whole
                write({ error: { message: `The request made with ${key} failed.`, type: 'server_error', param: null, code: null } });
                res.end();
                return;
            }
            if (marks.has('inspect-in-stream') && i === 2 && flavor === 'dashscope') {
                // DashScope's output check stopping a stream: its native
                // failure event, named error, with its HTTP status as a
                // comment and its {request_id, code, message}
                res.write(`event:error\n:HTTP_STATUS/400\ndata:${JSON.stringify({ request_id: rid(), code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' })}\n\n`);
                res.end();
                return;
            }
            if (marks.has('malformed-chunk') && i === 2) {
                write('{"choices": [not json');
                res.end();
                return;
            }
            if (marks.has('endless') && i === 2) {
                // a provider that never stops: 64 KiB deltas as fast as
                // the reader takes them, up to 16 MiB, then cut
                const piece = 'a'.repeat(64 * 1024);
                for (let sent = 0; sent < 16 * 1024 * 1024 && !res.destroyed; sent += piece.length) {
                    const line = `data: ${JSON.stringify(chunk({ content: piece }))}\n\n`;
                    if (!res.write(line)) await new Promise((ok) => { res.once('drain', ok); res.once('close', ok); });
                }
                res.socket?.destroy();
                return;
            }
            write(chunk({ content: words[i] }));
        }
        write(chunk({}, finish));
        if (marks.has('cut') && at('cut', 0) >= upto) {
            // past the last word: the finish_reason came, then the cut
            // what was written arrives before the cut
            res.write(`data: {"id":"${id}","choices":[],"usage":`, () => setTimeout(() => res.socket?.destroy(), 50));
            return;
        }
        if (j.stream_options?.include_usage && !marks.has('no-usage')) {
            write({ id, object: 'chat.completion.chunk', created, model: j.model, choices: [], usage });
        }
        write('[DONE]');
        res.end();
    }

    // ---- DashScope video (wan) ------------------------------------------
    const WAN_SIZES = ['832*480', '480*832', '624*624', '1280*720', '720*1280', '960*960', '1088*832', '832*1088',
        '1920*1080', '1080*1920', '1440*1440', '1632*1248', '1248*1632'];

    async function wanSubmit(req, res) {
        const body = await readBody(req);
        count('wan.submit', req, body);
        const key = bearer(req);
        const badKey = () => dashscopeError(res, 401, 'InvalidApiKey', 'Invalid API-key provided.');
        if (key !== opts.key) return badKey();
        if ((req.headers['x-dashscope-async'] || '').toLowerCase() !== 'enable') {
            return dashscopeError(res, 403, 'AccessDenied', 'current user api does not support synchronous calls');
        }
        let j;
        try {
            j = JSON.parse(body.toString('utf8'));
        } catch {
            return dashscopeError(res, 400, 'InvalidParameter', 'The request body is not valid JSON.');
        }
        const bad = (m) => dashscopeError(res, 400, 'InvalidParameter', m);
        if (!isObj(j) || typeof j.model !== 'string') return bad('Model not specified.');
        if (!/^wan/.test(j.model)) return dashscopeError(res, 404, 'ModelNotFound', 'Model not exist.');
        if (!isObj(j.input) || typeof j.input.prompt !== 'string' || !j.input.prompt.trim()) return bad('Field required: input.prompt');
        const p = j.parameters ?? {};
        if (!isObj(p)) return bad('parameters must be an object');
        if (/i2v/.test(j.model)) {
            if (typeof j.input.img_url !== 'string') return bad('Field required: input.img_url');
            if (p.resolution !== undefined && !['480P', '720P', '1080P'].includes(p.resolution)) return bad('The resolution is not valid.');
        } else if (p.size !== undefined && !WAN_SIZES.includes(p.size)) {
            return bad('The size is not match the allowed size.');
        }
        if (p.duration !== undefined && ![5, 10].includes(p.duration)) return bad('The duration is not valid, must be 5 or 10.');
        if (p.seed !== undefined && (!isInt(p.seed) || p.seed < 0 || p.seed > 2147483647)) return bad('The seed must be an integer in [0, 2147483647].');
        const marks = markers(j.input.prompt);
        marks.set('_prompt', j.input.prompt);
        stats.inFlight++;
        stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
        try {
            const done = await inject('wan.submit', marks, res, {
                auth: badKey,
                quota: () => dashscopeError(res, 429, 'Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.', { 'retry-after': '1' }),
                server: (s) => dashscopeError(res, s, 'InternalError', 'An internal error has occured, please try again later or contact service support.'),
                bad,
            });
            if (done) return;
            if (marks.has('safety')) return dashscopeError(res, 400, 'DataInspectionFailed', 'Input data may contain inappropriate content.');
            const id = rid();
            tasks.set(id, { created: Date.now(), marks, size: p.size ?? '1280*720', duration: p.duration ?? 5 });
            send(res, 200, { output: { task_status: 'PENDING', task_id: id }, request_id: rid() });
        } finally {
            stats.inFlight--;
        }
    }

    async function wanPoll(req, res, id) {
        count('wan.poll', req, null);
        if (bearer(req) !== opts.key) return dashscopeError(res, 401, 'InvalidApiKey', 'Invalid API-key provided.');
        if (opts.latencyMs) await sleep(opts.latencyMs);
        const t = tasks.get(id);
        const request_id = rid();
        if (!t) return send(res, 200, { request_id, output: { task_id: id, task_status: 'UNKNOWN' } });
        // "[fake:poll-429=N]": the first N polls of the task are throttled
        t.polls = (t.polls || 0) + 1;
        if (t.marks.has('poll-429') && t.polls <= (t.marks.get('poll-429') === true ? 1 : t.marks.get('poll-429'))) {
            return dashscopeError(res, 429, 'Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.');
        }
        // "[fake:poll-drop=N]": the next N polls are read and their
        // connection closed with no answer (a network cut); counted after
        // any poll-429s
        const drops = t.marks.get('poll-drop');
        if (drops !== undefined) {
            t.dropped = (t.dropped || 0) + 1;
            if (t.dropped <= (drops === true ? 1 : drops)) {
                res.socket?.destroy();
                return;
            }
        }
        // "[fake:poll-garbage=N]": the next N polls answer 200 with what
        // a client cannot read: a proxy's HTML page, then a body cut short
        const garbage = t.marks.get('poll-garbage');
        if (garbage !== undefined) {
            t.garbled = (t.garbled || 0) + 1;
            if (t.garbled <= (garbage === true ? 1 : garbage)) {
                return t.garbled % 2
                    ? send(res, 200, '<html><body>502 Bad Gateway</body></html>\n', { 'Content-Type': 'text/html' })
                    : send(res, 200, `{"request_id":"${request_id}","output":{"task_id":"${id}","task_sta`);
            }
        }
        const age = Date.now() - t.created;
        const times = { submit_time: new Date(t.created).toISOString().replace('T', ' ').replace('Z', '') };
        if (age < opts.taskMs / 3) return send(res, 200, { request_id, output: { task_id: id, task_status: 'PENDING', ...times } });
        if (age < opts.taskMs) return send(res, 200, { request_id, output: { task_id: id, task_status: 'RUNNING', ...times } });
        if (t.marks.has('fail-task')) {
            return send(res, 200, { request_id, output: { task_id: id, task_status: 'FAILED', code: 'InternalError', message: 'An internal error has occured, please try again later or contact service support.', ...times } });
        }
        if (t.marks.has('key-in-task')) {
            // a failed task whose message quotes the caller's key whole
            return send(res, 200, { request_id, output: { task_id: id, task_status: 'FAILED', code: 'InternalError', message: `The task made with ${bearer(req)} failed.`, ...times } });
        }
        if (t.marks.has('safety-task')) {
            return send(res, 200, { request_id, output: { task_id: id, task_status: 'FAILED', code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.', ...times } });
        }
        if (t.marks.has('cancel-task')) {
            return send(res, 200, { request_id, output: { task_id: id, task_status: 'CANCELED', ...times } });
        }
        const name = `${id}.webm`;
        // polled again after SUCCEEDED: the file and its cuts stay
        if (!files.has(name)) files.set(name, { type: 'video/webm', data: video, cuts: cutsOf(t.marks), shorts: cutsOf(t.marks, 'short-download'), busy: Number(t.marks.get('busy-download') ?? 0), slow: Number(t.marks.get('slow-download') ?? 0) });
        send(res, 200, {
            request_id,
            output: { task_id: id, task_status: 'SUCCEEDED', video_url: fileUrl(base(), name, t.marks), orig_prompt: t.marks.get('_prompt'), ...times, end_time: times.submit_time },
            usage: { video_duration: t.duration, video_ratio: t.size, video_count: 1 },
        });
    }

    // ---- files, stats ---------------------------------------------------
    async function serveFile(req, res, name) {
        count('files', req, null);
        const f = files.get(name);
        if (!f) return send(res, 404, 'Not Found\n', { 'Content-Type': 'text/plain' });
        // "[fake:slow-download=N]": every download waits N ms before its
        // answer; the downloads in flight are counted meanwhile
        stats.filesInFlight++;
        stats.maxFilesInFlight = Math.max(stats.maxFilesInFlight, stats.filesInFlight);
        try {
            if (f.slow > 0) await new Promise((r) => setTimeout(r, f.slow));
            return serveFileNow(req, res, f);
        } finally {
            stats.filesInFlight--;
        }
    }

    function serveFileNow(req, res, f) {
        const total = f.data.length;
        const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range || '');
        if (m && (m[1] !== '' || m[2] !== '')) {
            let start = m[1] === '' ? total - Number(m[2]) : Number(m[1]);
            let end = m[1] === '' || m[2] === '' ? total - 1 : Number(m[2]);
            start = Math.max(0, start);
            end = Math.min(total - 1, end);
            if (start > end) {
                res.writeHead(416, { 'Content-Range': `bytes */${total}` });
                return res.end();
            }
            res.writeHead(206, { 'Content-Type': f.type, 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${total}`, 'Accept-Ranges': 'bytes' });
            return res.end(req.method === 'HEAD' ? undefined : f.data.subarray(start, end + 1));
        }
        // "[fake:busy-download=N]": the first N downloads answer 503 in
        // the object store's (OSS's) XML error shape
        if (f.busy > 0) {
            f.busy--;
            return send(res, 503, '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message></Error>\n', { 'Content-Type': 'application/xml' });
        }
        if (f.cuts > 0 && req.method === 'GET') {
            f.cuts--;
            return sendCut(res, 200, f.data, { 'Content-Type': f.type, 'Accept-Ranges': 'bytes' });
        }
        if (f.shorts > 0 && req.method === 'GET') {
            f.shorts--;
            return sendShort(res, 200, f.data, f.type);
        }
        res.writeHead(200, { 'Content-Type': f.type, 'Content-Length': total, 'Accept-Ranges': 'bytes' });
        res.end(req.method === 'HEAD' ? undefined : f.data);
    }

    async function route(req, res) {
        const url = new URL(req.url, 'http://fake');
        const p = url.pathname;
        let m;
        if (req.method === 'GET' && p === '/_fake/stats') return send(res, 200, stats);
        if (req.method === 'POST' && p === '/_fake/reset') {
            stats.requests = {};
            stats.last = {};
            stats.times = {};
            stats.maxInFlight = stats.inFlight;
            stats.maxFilesInFlight = stats.filesInFlight;
            onceSeen.clear();
            return send(res, 200, { ok: true });
        }
        if ((req.method === 'GET' || req.method === 'HEAD') && (m = /^\/_fake\/files\/([\w.-]+)$/.exec(p))) return serveFile(req, res, m[1]);
        if ((req.method === 'GET' || req.method === 'HEAD') && (m = /^\/_fake\/redirect\/(\d+)\/([\w.-]+)$/.exec(p))) {
            count('redirects', req, null);
            const left = Number(m[1]) - 1;
            const to = left > 0 ? `/_fake/redirect/${left}/${m[2]}` : `/_fake/files/${m[2]}`;
            return send(res, 302, '', { Location: `${base()}${to}`, 'Content-Type': 'text/plain' });
        }
        if (req.method === 'POST' && (m = /^\/v1beta\/models\/([\w.-]+):generateContent$/.exec(p))) return gemini(req, res, m[1], url);
        if (req.method === 'POST' && p === '/api/v3/images/generations') return ark(req, res);
        if (req.method === 'POST' && p === '/v1/chat/completions') return chat('openai', req, res);
        if (req.method === 'POST' && p === '/xai/v1/chat/completions') return chat('xai', req, res);
        if (req.method === 'POST' && p === '/compatible-mode/v1/chat/completions') return chat('dashscope', req, res);
        if (req.method === 'POST' && p === '/api/v1/services/aigc/video-generation/video-synthesis') return wanSubmit(req, res);
        if (req.method === 'GET' && (m = /^\/api\/v1\/tasks\/([\w-]+)$/.exec(p))) return wanPoll(req, res, m[1]);
        count('unknown', req, null);
        send(res, 404, { error: { message: `fake providers: no route for ${req.method} ${p}`, type: 'not_found' } });
    }

    const server = http.createServer((req, res) => {
        route(req, res).catch((e) => {
            if (!res.headersSent) send(res, 500, { error: { message: `fake providers: ${e.message}` } });
            else res.destroy();
        });
    });
    server.keepAliveTimeout = 5000;

    return {
        server,
        listen() {
            return new Promise((resolve, reject) => {
                server.once('error', reject);
                server.listen(opts.port, opts.host, () => {
                    port = server.address().port;
                    resolve(port);
                });
            });
        },
        close() {
            for (const r of hanging) r.socket?.destroy();
            server.closeAllConnections?.();
            return new Promise((resolve) => server.close(() => resolve()));
        },
    };
}

// ---- main -------------------------------------------------------------------

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    let opts;
    try {
        opts = parseOptions(process.argv, process.env);
    } catch (e) {
        process.stderr.write(`fake providers: ${e.message}\n`);
        process.exit(2);
    }
    const fake = createFakeProviders(opts);
    fake.listen().then((port) => {
        process.stdout.write(`${JSON.stringify({ port })}\n`);
    }, (e) => {
        process.stderr.write(`fake providers: cannot listen: ${e.message}\n`);
        process.exit(1);
    });
    const stop = () => fake.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}
