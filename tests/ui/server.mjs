// A static preview of the module pages with a mock of the module API
// (docs/MODULES.md, "Module API"), so the pages can be built and tested
// without the stack.  Node 20, no npm packages.
//
// - /ui/*            backends/ui/ as nginx serves it
// - /<m>, /<m>/      backends/<m>/public/index.html rendered the way
//                    libnano's nano_page_render does ({{head}}, {{header}},
//                    {{title}}, {{user_name}}, {{user_email}}, {{base}})
// - /<m>/api/...     models, generate (JSON or multipart; SSE for text),
//                    generations/{id} (GET, DELETE, /cancel), history,
//                    /<m>/media/{id}/{n}.{ext}
// - /api/credits     the platform's balance and ledger
// - /api/auth/session the signed-in user's session (pages ask it on
//                    input and focus, at most every 10 s, to renew it)
//
// Generations move queued -> running -> succeeded by the clock.  A prompt
// with "#blocked", "#quota", "#down", "#auth" or "#timeout" fails with that
// error code; for text "#cut" ends the stream with an error event, "#drop"
// closes the connection mid-answer as a killed process would (the row ends
// interrupted and refunded state.timing.leaseMs later), "#slow"
// writes slowly.  Tests (same
// process) steer the rest through the returned object: state.balance,
// state.maxInflight, state.timing, refuseNext(module, status, body),
// seed(module, n) (n older finished generations).
//
// Alone, for a look in a browser:  node tests/ui/server.mjs [port]
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { encodePng } from '../fakes/png.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const UI = path.join(ROOT, 'backends/ui');
const CLIP = fs.readFileSync(path.join(HERE, 'fixtures/clip.webm'));

export const USER = { id: 'u-test-1', name: 'Zoë <Brontë> & "Co"', email: 'zoe@example.com' };

// What each module's /api/models says (the lead's registry decides the real ones).
export const MODULES = {
    'nano-banana': { kind: 'image', title: 'Nano Banana', provider: 'gemini', offline: false, models: [{ id: 'gemini-2.5-flash-image', label: 'Gemini 2.5 Flash Image', cost: 4 }] },
    seedream: { kind: 'image', title: 'Seedream', provider: 'ark', offline: true, models: [{ id: 'seedream-4-0-250828', label: 'Seedream 4.0', cost: 3 }] },
    qwen: { kind: 'text', title: 'Qwen', provider: 'dashscope', offline: false, models: [{ id: 'qwen-plus', label: 'Qwen Plus', cost: 1 }, { id: 'qwen-max', label: 'Qwen Max', cost: 2 }] },
    grok: { kind: 'text', title: 'Grok', provider: 'xai', offline: false, models: [{ id: 'grok-4', label: 'Grok 4', cost: 2 }] },
    openai: { kind: 'text', title: 'OpenAI', provider: 'openai', offline: true, models: [{ id: 'gpt-4o-mini', label: 'GPT-4o mini', cost: 1 }, { id: 'gpt-4.1', label: 'GPT-4.1', cost: 3 }] },
    'wan-2.5': { kind: 'video', title: 'Wan 2.5', provider: 'wan', offline: false, models: [{ id: 'wan2.5-t2v-preview', label: 'Wan 2.5 text-to-video', cost: 20 }] },
};

const ASPECTS = ['1:1', '3:2', '2:3', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'];
const ERRORS = {
    '#blocked': ['blocked', 'the provider blocked the prompt (SAFETY)'],
    '#quota': ['provider_quota', 'the provider answered 429'],
    '#down': ['provider_error', 'the provider answered 503'],
    '#auth': ['provider_auth', 'the provider refused the key'],
    '#timeout': ['timeout', 'the provider did not answer in 120 s'],
};
const UPLOAD_MAX = 10 * 1024 * 1024;

// The header libnano's nano_page_header writes (backends/lib/nano_page.c).
const HEAD = '<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    + '<link rel="stylesheet" href="/ui/ui.css">\n<link rel="icon" href="/ui/logo.svg">';
const HEADER_MODULES = [
    ['/nano-banana', 'Nano Banana'], ['/seedream', 'Seedream'], ['/qwen', 'Qwen'],
    ['/grok', 'Grok'], ['/openai', 'OpenAI'], ['/wan-2.5', 'Wan 2.5'],
];
// The CSP a later issue may send: the pages must work under it.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    + "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function header(active) {
    const links = HEADER_MODULES.map(([p, label]) => `    <a href="${p}"${p === active ? ' aria-current="page"' : ''}>${label}</a>\n`).join('');
    return `<a class="nb-skip" href="#main">Skip to content</a>\n<header class="nb-header" data-nb-user="${esc(USER.id)}">\n  <a class="nb-brand" href="/"><img src="/ui/logo.svg" alt="" width="28" height="28"><span>Nano Banana</span></a>\n`
        + `  <nav class="nb-nav" aria-label="Modules">\n${links}  </nav>\n  <div class="nb-user">`
        + '<span class="nbm-balance" data-nb-balance hidden></span>\n    <nav class="nb-account" aria-label="Account">'
        + '<a class="nb-dashboard" href="/">Dashboard</a><a class="nb-billing" href="/billing">Billing</a><a class="nb-settings" href="/settings">Settings</a></nav>\n    '
        + `<span class="nb-who"><span class="nb-user-name" title="${esc(USER.name)}">${esc(USER.name)}</span></span>\n    <a href="/api/auth/signout?callbackUrl=${encodeURIComponent(`${active}/`)}">Sign out</a></div>\n</header>`;
}

// The module's title in the registry (modules.conf), which {{title}} shows.
function appTitle(m) {
    const line = fs.readFileSync(path.join(ROOT, 'modules.conf'), 'utf8').split('\n')
        .map((l) => l.replace(/#.*/, '').trim().split(/\s+/))
        .find((w) => w[0] === m);
    return line ? line.slice(3).join(' ') : m;
}

// ---- PNG of any size, deterministic per prompt ---------------------------------

export function png(width, height, seed = 'nano') {
    const h = crypto.createHash('sha256').update(String(seed)).digest();
    const a = [h[0], h[1], h[2]];
    const b = [h[3], h[4], h[5]];
    return encodePng(width, height, (x, y) => {
        const t = (x + y) / (width + height);
        const stripe = ((x + 2 * y) >> 4) % 2 ? 1 : 0.9;
        return [0, 1, 2].map((k) => Math.round((a[k] * (1 - t) + b[k] * t) * stripe));
    });
}

function sniff(buf) {
    if (buf.length >= 8 && buf[0] === 0x89 && buf.toString('latin1', 1, 4) === 'PNG') return 'png';
    if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpg';
    if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') return 'webp';
    return null;
}

// ---- the mock ------------------------------------------------------------------

export async function startServer({ port = 0, host = '127.0.0.1' } = {}) {
    const state = {
        balance: 0,
        ledger: [],
        maxInflight: 16,
        timing: { queuedMs: 700, runMs: 1500, tokenMs: 40, leaseMs: 1500 },
        gens: new Map(),          // id -> generation (with _module, _plan)
        requests: [],             // what the pages sent to /api/generate, /cancel, DELETE
        refusals: new Map(),      // module -> [{status, body}] for the next generate
        unknownPlaceholders: new Set(),
        streams: 0,
    };
    let seq = 0;
    const newId = () => `g${String(++seq).padStart(4, '0')}${crypto.randomBytes(3).toString('hex')}`;

    function ledger(delta, reason, module, generationId) {
        state.balance += delta;
        state.ledger.unshift({ delta, reason, module, generationId, createdAt: new Date().toISOString() });
    }

    // Moves a generation along its plan by the clock; refunds what fails.
    function advance(g) {
        if (!g._plan || ['succeeded', 'failed', 'canceled'].includes(g.status)) return g;
        const age = Date.now() - Date.parse(g.createdAt);
        const { queuedMs, runMs } = g._plan;
        if (age >= queuedMs && g.status === 'queued') {
            g.status = 'running';
            g.startedAt = new Date(Date.parse(g.createdAt) + queuedMs).toISOString();
        }
        if (age >= queuedMs + runMs && g.status === 'running') {
            g.finishedAt = new Date(Date.parse(g.createdAt) + queuedMs + runMs).toISOString();
            if (g._plan.error) {
                g.status = 'failed';
                g.error = { code: g._plan.error[0], message: g._plan.error[1] };
                ledger(g.cost, 'refund', g._module, g.id);
            } else {
                g.status = 'succeeded';
                g.outputs = g._plan.outputs;
            }
        }
        return g;
    }

    // The public shape of a generation (docs/MODULES.md).
    function view(g) {
        advance(g);
        return {
            id: g.id, module: g._module, model: g.model, status: g.status, prompt: g.prompt, cost: g.cost,
            offline: g.offline, outputs: g.status === 'succeeded' ? g.outputs : [], text: g.text ?? null,
            error: g.error ?? null, partial: g.status === 'succeeded' && !!g.error, createdAt: g.createdAt, startedAt: g.startedAt ?? null, finishedAt: g.finishedAt ?? null,
        };
    }

    function sizeOf(m, p) {
        if (p.size && /^\d+x\d+$/.test(p.size)) return p.size.split('x').map(Number);
        if (MODULES[m].kind === 'video') return [1280, 720];
        const [w, h] = (p.aspectRatio || '1:1').split(':').map(Number);
        const k = Math.sqrt((1024 * 1024) / (w * h));
        return [Math.round(w * k / 8) * 8, Math.round(h * k / 8) * 8];
    }

    function create(m, fields, { text, conversationId, final } = {}) {
        const mod = MODULES[m];
        const model = mod.models.find((x) => x.id === fields.model) || mod.models[0];
        const id = newId();
        const g = {
            id, _module: m, model: model.id, status: 'queued', prompt: fields.prompt, cost: model.cost, offline: mod.offline,
            createdAt: new Date().toISOString(), conversationId,
        };
        if (mod.kind === 'text') {
            Object.assign(g, { status: 'running', startedAt: g.createdAt, text: text ?? '' });
        } else {
            const marker = Object.keys(ERRORS).find((k) => fields.prompt.includes(k));
            const [w, h] = sizeOf(m, fields);
            const ext = mod.kind === 'video' ? 'webm' : 'png';
            g._plan = {
                ...state.timing, error: marker && ERRORS[marker],
                outputs: [{ url: `/${m}/media/${id}/0.${ext}`, mime: mod.kind === 'video' ? 'video/webm' : 'image/png', width: w, height: h }],
            };
        }
        if (final) Object.assign(g, final);
        state.gens.set(id, g);
        return g;
    }

    // Past generations, so history has pages; final at once.
    function seed(m, n, mutate) {
        for (let i = n; i > 0; i--) {
            const kind = MODULES[m].kind;
            const prompt = kind === 'text' ? `Question number ${i}: how do bananas ripen?` : `Seeded ${kind} ${i}: bananas on a blue table`;
            const g = create(m, { prompt }, kind === 'text' ? { text: `Answer ${i}. Bananas ripen as starch turns to sugar; ethylene speeds it up.` } : {});
            g.createdAt = new Date(Date.now() - i * 3600_000).toISOString();
            if (g._plan) g._plan = { ...g._plan, queuedMs: 0, runMs: 0 };
            else Object.assign(g, { status: 'succeeded', finishedAt: g.createdAt });
            mutate?.(g, i);
            advance(g);
        }
    }
    seed('nano-banana', 15, (g, i) => {
        if (i === 3) g._plan.error = ERRORS['#blocked'];
        if (i === 5) Object.assign(g, { status: 'canceled', finishedAt: g.createdAt });
    });
    seed('seedream', 3);
    seed('wan-2.5', 2);
    seed('qwen', 25);
    seed('openai', 2);
    // the seeds' refunds are no part of the account: it starts with the grant
    state.ledger = [];
    state.balance = 0;
    ledger(100, 'signup', null, null);

    function list(m) {
        return [...state.gens.values()].filter((g) => g._module === m)
            .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : (a.id < b.id ? 1 : -1)));
    }

    // ---- HTTP helpers ----
    const send = (res, status, body, headers = {}) => {
        const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
        res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
        res.end(data);
    };
    const refuse = (res, status, error, extra = {}) => send(res, status, { error, message: `mock: ${error}`, ...extra });

    async function readBody(req, max) {
        const parts = [];
        let n = 0;
        for await (const c of req) {
            n += c.length;
            if (n > max) return null;
            parts.push(c);
        }
        return Buffer.concat(parts);
    }

    // POST, DELETE: the same-origin rule libnano applies (403 csrf).
    function crossSite(req) {
        const site = req.headers['sec-fetch-site'];
        if (site && site !== 'same-origin' && site !== 'none') return true;
        const origin = req.headers.origin;
        return origin && origin !== `http://${req.headers.host}`;
    }

    // Reads /api/generate's fields: JSON or multipart (with the file `image`).
    async function generateFields(req, res, m) {
        const ct = req.headers['content-type'] || '';
        const raw = await readBody(req, UPLOAD_MAX + 64 * 1024);
        if (raw === null) return refuse(res, 413, 'payload_too_large');
        const record = {
            module: m, method: 'POST', path: req.url, contentType: ct.split(';')[0],
            idempotencyKey: req.headers['idempotency-key'],
        };
        state.requests.push(record);
        if (ct.startsWith('application/json')) {
            try {
                record.json = JSON.parse(raw.toString('utf8'));
            } catch {
                return refuse(res, 400, 'invalid_json');
            }
            return record.json && typeof record.json === 'object' ? { ...record.json } : refuse(res, 400, 'invalid_json');
        }
        if (ct.startsWith('multipart/form-data') && MODULES[m].kind !== 'text') {
            const form = await new Request('http://mock/', { method: 'POST', headers: { 'content-type': ct }, body: raw }).formData();
            const fields = {};
            record.fields = {};
            for (const [k, v] of form) {
                if (typeof v === 'string') {
                    fields[k] = v;
                    record.fields[k] = v;
                } else {
                    fields[k] = Buffer.from(await v.arrayBuffer());
                    record.fields[k] = { name: v.name, size: v.size, type: v.type };
                }
            }
            for (const k of ['seed', 'duration']) if (fields[k] !== undefined) fields[k] = Number(fields[k]);
            return fields;
        }
        return refuse(res, 415, 'unsupported_media_type');
    }

    // The field that is wrong, or null.
    function invalid(m, f) {
        const mod = MODULES[m];
        if (typeof f.prompt !== 'string' || !f.prompt.trim() || f.prompt.length > 4000) {
            if (!(mod.kind === 'text' && Array.isArray(f.messages))) return 'prompt';
        }
        if (f.model !== undefined && !mod.models.some((x) => x.id === f.model)) return 'model';
        if (f.seed !== undefined && !(Number.isInteger(f.seed) && f.seed >= 0 && f.seed <= 2147483647)) return 'seed';
        if (f.aspectRatio !== undefined && !ASPECTS.includes(f.aspectRatio)) return 'aspectRatio';
        if (f.size !== undefined && !/^\d{3,4}x\d{3,4}$/.test(f.size)) return 'size';
        if (f.size !== undefined && mod.kind === 'video'
            && !['1280x720', '720x1280', '832x480', '480x832', '1920x1080', '1080x1920'].includes(f.size)) return 'size';
        if (f.duration !== undefined && ![5].includes(f.duration)) return 'duration';
        if (f.image !== undefined && (m !== 'nano-banana' || !sniff(Buffer.isBuffer(f.image) ? f.image
            : Buffer.from(String(f.image).replace(/^data:[^,]*,/, ''), 'base64')))) return 'image';
        if (f.conversationId !== undefined && ![...state.gens.values()].some((g) => g.conversationId === f.conversationId)) return 'conversationId';
        return null;
    }

    async function generate(req, res, m) {
        const fields = await generateFields(req, res, m);
        if (!fields || res.headersSent) return;
        const queued = state.refusals.get(m);
        if (queued?.length) {
            const r = queued.shift();
            return send(res, r.status, r.body);
        }
        const bad = invalid(m, fields);
        if (bad) return refuse(res, 400, 'invalid_field', { field: bad });
        const mod = MODULES[m];
        const model = mod.models.find((x) => x.id === fields.model) || mod.models[0];
        if (state.balance < model.cost) return refuse(res, 402, 'insufficient_credits');
        const inflight = list(m).filter((g) => ['queued', 'running'].includes(advance(g).status)).length;
        if (inflight >= state.maxInflight) return refuse(res, 429, 'too_many_in_flight');
        if (mod.kind === 'text') return chat(req, res, m, fields, model);
        const g = create(m, fields);
        ledger(-g.cost, 'debit', m, g.id);
        return send(res, 202, { id: g.id, status: 'queued', cost: g.cost });
    }

    // Text: SSE deltas (split across writes, CRLF here and there, a
    // multi-byte character cut in two), then done / error.
    async function chat(req, res, m, fields, model) {
        const prompt = fields.prompt ?? fields.messages?.at(-1)?.content ?? '';
        const conversationId = fields.conversationId || `c-${crypto.randomBytes(4).toString('hex')}`;
        const turn = [...state.gens.values()].filter((g) => g.conversationId === conversationId).length + 1;
        const reply = `${turn > 1 ? `(Turn ${turn} of our conversation.) ` : ''}You asked: “${prompt}”. `
            + 'Here is a short answer, written word by word so you can watch it arrive: '
            + 'bananas are berries, naïve as that sounds — café au lait is not. ✓ Done.';
        const g = create(m, { ...fields, prompt, model: model.id }, { conversationId });
        ledger(-g.cost, 'debit', m, g.id);
        const usage = { prompt_tokens: prompt.split(/\s+/).length, completion_tokens: 0, total_tokens: 0 };
        if (!fields.stream) {
            usage.completion_tokens = reply.split(' ').length;
            usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
            Object.assign(g, { status: 'succeeded', text: reply, finishedAt: new Date().toISOString() });
            return send(res, 200, { id: g.id, conversationId, text: reply, usage, cost: g.cost });
        }
        state.streams++;
        res.socket.setNoDelay(true);
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
        let gone = false;
        res.on('close', () => {
            if (res.writableFinished) return;
            gone = true;
        });
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        const pace = prompt.includes('#slow') ? 250 : state.timing.tokenMs;
        const write = async (buf) => {
            if (gone) return;
            // in two pieces, the cut inside a character where there is one
            const cut = Math.max(1, Math.floor(buf.length / 2));
            res.write(buf.subarray(0, cut));
            await sleep(3);
            if (!gone) res.write(buf.subarray(cut));
        };
        const event = (name, data, eol = '\n') => Buffer.from(`event: ${name}${eol}data: ${JSON.stringify(data)}${eol}${eol}`);
        const words = reply.split(/(?<= )/);
        let text = '';
        try {
            await write(Buffer.from(': ping\n\n'));
            for (const [i, w] of words.entries()) {
                if (gone) break;
                if (i === 12 && prompt.includes('#cut')) {
                    await write(event('error', { error: 'stream_cut', message: 'the provider closed the stream' }));
                    Object.assign(g, { status: 'failed', text, error: { code: 'stream_cut', message: 'cut' }, finishedAt: new Date().toISOString() });
                    ledger(g.cost, 'refund', m, g.id);
                    return res.end();
                }
                if (i === 12 && prompt.includes('#drop')) {
                    // as a module process killed mid-answer: the row stays
                    // running until its lease runs out, then another
                    // process ends it interrupted and refunds it
                    g.text = text;
                    setTimeout(() => {
                        Object.assign(g, {
                            status: 'failed', finishedAt: new Date().toISOString(),
                            error: { code: 'interrupted', message: 'the generation was cut short when its server stopped; your credits were refunded' },
                        });
                        ledger(g.cost, 'refund', m, g.id);
                    }, state.timing.leaseMs);
                    return res.destroy();
                }
                const code = ERRORS[Object.keys(ERRORS).find((k) => prompt.includes(k))];
                if (i === 0 && code) {
                    await write(event('error', { error: code[0], message: code[1] }));
                    Object.assign(g, { status: 'failed', error: { code: code[0], message: code[1] }, finishedAt: new Date().toISOString() });
                    ledger(g.cost, 'refund', m, g.id);
                    return res.end();
                }
                text += w;
                await write(event('delta', { text: w }, i % 3 === 1 ? '\r\n' : '\n'));
                if (i % 7 === 3) await write(Buffer.from(': ping\n\n'));
                await sleep(pace);
            }
            usage.completion_tokens = text.split(' ').length;
            usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
            // a client that left is charged for what was written (partial),
            // refunded when nothing was (the server's client_gone)
            if (gone && !text) {
                Object.assign(g, { status: 'failed', text, error: { code: 'client_gone', message: 'the reader left before any answer came' }, finishedAt: new Date().toISOString() });
                ledger(g.cost, 'refund', m, g.id);
                return undefined;
            }
            Object.assign(g, { status: 'succeeded', text, finishedAt: new Date().toISOString() },
                gone ? { error: { code: 'client_gone', message: 'the answer was cut short when its reader left' } } : {});
            if (gone) return undefined;
            await write(event('done', { id: g.id, conversationId, usage, cost: g.cost }));
            return res.end();
        } finally {
            state.streams--;
        }
    }

    async function media(req, res, m, id, n, ext) {
        const g = state.gens.get(id);
        if (!g || g._module !== m || advance(g).status !== 'succeeded' || n !== '0') return refuse(res, 404, 'not_found');
        if (ext === 'png') {
            const [w, h] = [g._plan.outputs[0].width, g._plan.outputs[0].height];
            const k = Math.min(1, 384 / Math.max(w, h));
            g._png ??= png(Math.max(1, Math.round(w * k)), Math.max(1, Math.round(h * k)), g.prompt);
            return send(res, 200, g._png, { 'Content-Type': 'image/png' });
        }
        if (ext !== 'webm') return refuse(res, 404, 'not_found');
        const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range || '');
        if (range) {
            const start = range[1] ? Number(range[1]) : CLIP.length - Number(range[2]);
            const end = range[1] && range[2] ? Math.min(Number(range[2]), CLIP.length - 1) : CLIP.length - 1;
            if (start >= CLIP.length || start > end) return send(res, 416, '', { 'Content-Range': `bytes */${CLIP.length}` });
            return send(res, 206, CLIP.subarray(start, end + 1), {
                'Content-Type': 'video/webm', 'Accept-Ranges': 'bytes', 'Content-Range': `bytes ${start}-${end}/${CLIP.length}`,
            });
        }
        return send(res, 200, CLIP, { 'Content-Type': 'video/webm', 'Accept-Ranges': 'bytes' });
    }

    function page(res, m) {
        const tpl = fs.readFileSync(path.join(ROOT, 'backends', m, 'public/index.html'), 'utf8');
        const vars = { title: appTitle(m), user_name: USER.name, user_email: USER.email, base: `/${m}` };
        const html = tpl.replace(/\{\{\s*([A-Za-z_]+)\s*\}\}/g, (_, k) => {
            if (k === 'head') return HEAD;
            if (k === 'header') return header(`/${m}`);
            if (k in vars) return esc(vars[k]);
            state.unknownPlaceholders.add(k);
            return '';
        });
        send(res, 200, html, {
            'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP, 'X-Frame-Options': 'DENY',
        });
    }

    function staticUi(res, rel) {
        const file = path.resolve(UI, rel);
        if (!file.startsWith(UI + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return refuse(res, 404, 'not_found');
        const type = { '.css': 'text/css', '.js': 'application/javascript', '.svg': 'image/svg+xml', '.md': 'text/plain' }[path.extname(file)]
            || 'application/octet-stream';
        return send(res, 200, fs.readFileSync(file), { 'Content-Type': `${type}; charset=utf-8` });
    }

    // Generations page by keyset (the server's "<createdAt>|<id>": the
    // next page is found even when the row the cursor names was deleted);
    // the ledger by its entry.
    function page_(items, limitRaw, cursor, res) {
        const limit = limitRaw === null ? 20 : Number(limitRaw);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) return refuse(res, 400, 'invalid_field', { field: 'limit' });
        const key = (x) => (x.id ? `${x.createdAt}|${x.id}` : x.createdAt + x.delta);
        let start = 0;
        if (cursor) {
            const after = Buffer.from(cursor, 'base64url').toString();
            const [at, id] = after.split('|');
            const i = id ? items.findIndex((x) => x.createdAt < at || (x.createdAt === at && x.id < id))
                : items.findIndex((x) => key(x) === after) + 1;
            if (!id && i === 0) return refuse(res, 400, 'invalid_field', { field: 'cursor' });
            start = i < 0 ? items.length : i;
        }
        const slice = items.slice(start, start + limit);
        const last = slice.at(-1);
        const more = start + limit < items.length;
        return { slice, nextCursor: more && last ? Buffer.from(key(last)).toString('base64url') : null };
    }

    async function route(req, res) {
        const url = new URL(req.url, 'http://mock');
        const p = url.pathname;
        const method = req.method;
        if (p.startsWith('/ui/')) return staticUi(res, decodeURIComponent(p.slice(4)));
        if (p === '/') return send(res, 302, '', { Location: '/nano-banana/' });
        if (p === '/api/auth/session' && method === 'GET') {
            return send(res, 200, { user: { name: USER.name, email: USER.email }, expires: new Date(Date.now() + 3600e3).toISOString() });
        }
        if (p === '/api/credits' && method === 'GET') {
            const r = page_(state.ledger, url.searchParams.get('limit'), url.searchParams.get('cursor'), res);
            return r && send(res, 200, { balance: state.balance, ledger: r.slice, nextCursor: r.nextCursor });
        }
        const mm = /^\/([a-z0-9][a-z0-9.-]*)(\/.*)?$/.exec(p);
        const m = mm && MODULES[mm[1]] ? mm[1] : null;
        if (!m) return refuse(res, 404, 'not_found');
        const rest = mm[2] || '/';
        if (rest === '/' && (method === 'GET' || method === 'HEAD')) return page(res, m);
        if ((method === 'POST' || method === 'DELETE') && crossSite(req)) return refuse(res, 403, 'csrf');
        if (rest === '/api/models' && method === 'GET') {
            const mod = MODULES[m];
            // docs/MODULES.md: what it runs on; a video module's sizes and
            // durations
            const video = mod.kind === 'video'
                ? { sizes: ['1280x720', '720x1280', '832x480', '480x832', '1920x1080', '1080x1920'], durations: [5] } : {};
            return send(res, 200, { module: m, title: mod.title, kind: mod.kind, provider: mod.offline ? `offline-${mod.kind}` : mod.provider, offline: mod.offline, promptMaxBytes: 8000, models: mod.models, ...video });
        }
        if (rest === '/api/generate' && method === 'POST') return generate(req, res, m);
        if (rest === '/api/history' && method === 'GET') {
            const r = page_(list(m), url.searchParams.get('limit'), url.searchParams.get('cursor'), res);
            return r && send(res, 200, { items: r.slice.map(view), nextCursor: r.nextCursor });
        }
        let g;
        const gm = /^\/api\/generations\/([^/]+)(\/cancel)?$/.exec(rest);
        if (gm) {
            g = state.gens.get(decodeURIComponent(gm[1]));
            if (!g || g._module !== m) return refuse(res, 404, 'not_found');
            advance(g);
        }
        if (gm && !gm[2] && method === 'GET') return send(res, 200, view(g));
        if (gm && !gm[2] && method === 'DELETE') {
            state.requests.push({ module: m, method, path: p });
            if (g.status === 'running') return refuse(res, 409, 'running');
            // a queued one is refunded, as nano_gen.c's change does
            if (g.status === 'queued') ledger(g.cost, 'refund', m, g.id);
            state.gens.delete(g.id);
            return send(res, 200, { ok: true });
        }
        if (gm && gm[2] && method === 'POST') {
            state.requests.push({ module: m, method, path: p, contentType: (req.headers['content-type'] || '').split(';')[0] });
            if (g.status !== 'queued') return refuse(res, 409, 'not_queued');
            Object.assign(g, { status: 'canceled', finishedAt: new Date().toISOString() });
            ledger(g.cost, 'refund', m, g.id);
            return send(res, 200, { id: g.id, status: 'canceled' });
        }
        const med = /^\/media\/([^/]+)\/(\d+)\.([a-z0-9]+)$/.exec(rest);
        if (med && (method === 'GET' || method === 'HEAD')) return media(req, res, m, med[1], med[2], med[3]);
        return refuse(res, 404, 'not_found');
    }

    const server = http.createServer((req, res) => {
        route(req, res).catch((e) => {
            console.error('mock:', e);
            if (!res.headersSent) refuse(res, 500, 'internal');
            else res.destroy();
        });
    });
    await new Promise((resolve) => server.listen(port, host, resolve));
    const url = `http://${host}:${server.address().port}`;
    return {
        url,
        state,
        // n more finished generations of module m, older than the rest
        seed(m, n) {
            const oldest = Math.min(...list(m).map((g) => Date.parse(g.createdAt)), Date.now());
            seed(m, n, (g, i) => { g.createdAt = new Date(oldest - i * 60_000).toISOString(); });
        },
        refuseNext(module, status, body) {
            if (!state.refusals.has(module)) state.refusals.set(module, []);
            state.refusals.get(module).push({ status, body });
        },
        close: () => new Promise((resolve) => {
            server.closeAllConnections();
            server.close(resolve);
        }),
    };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const s = await startServer({ port: Number(process.argv[2] || 18390) });
    console.log(`mock module API and pages at ${s.url}/nano-banana/ (Ctrl+C stops)`);
}
