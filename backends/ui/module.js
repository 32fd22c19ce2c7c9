/* Nano Banana module tool: the one script every module page includes
 * (<script type="module" src="/ui/module.js">).  It reads its settings from
 * the page's [data-nb-tool] element, asks {base}/api/models what the module
 * offers, and builds the tool there: prompt, options, cost, live result,
 * history.  The API it speaks is docs/MODULES.md's "Module API".
 * Plain ES module, no build step; user text only ever goes in as text. */

const FINAL = new Set(['succeeded', 'failed', 'canceled']);
const MIB = 1024 * 1024;
const UPLOAD_MAX = 10 * MIB;            /* multipart limit of /api/generate */
/* The upload zone's title, empty and with a chosen image (whose own
 * button removes it; choosing or dropping another replaces it). */
const DROP_EMPTY = 'Add an image to edit (optional)';
const DROP_FILLED = 'The image to edit: choose or drop another to replace it';
const SEED_MAX = 2147483647;
const PAGE_SIZE = { image: 12, video: 12, text: 20 };

/* Choices for the options a page asks for with data-options. */
const ASPECTS = [
    ['1:1', 'Square (1:1)'], ['4:3', 'Landscape (4:3)'], ['3:4', 'Portrait (3:4)'],
    ['16:9', 'Wide (16:9)'], ['9:16', 'Tall (9:16)'], ['3:2', 'Photo (3:2)'],
    ['2:3', 'Photo, upright (2:3)'], ['5:4', 'Landscape (5:4)'], ['4:5', 'Portrait (4:5)'],
    ['21:9', 'Cinema (21:9)'],
];
const IMAGE_SIZES = [
    ['2048x2048', 'Square · 2048 × 2048'], ['1024x1024', 'Square · 1024 × 1024'],
    ['2304x1728', 'Landscape 4:3 · 2304 × 1728'], ['1728x2304', 'Portrait 3:4 · 1728 × 2304'],
    ['2560x1440', 'Wide 16:9 · 2560 × 1440'], ['1440x2560', 'Tall 9:16 · 1440 × 2560'],
];
// A video's sizes and durations come from /api/models ("sizes",
// "durations": what generate takes, the first the default); this page
// kept a copy of its own until 2026-12-07.
function videoSizeChoices(info) {
    const sizes = Array.isArray(info.sizes) ? info.sizes.filter((s) => /^\d+x\d+$/.test(s)) : [];
    return sizes.map((s) => {
        const [w, h] = s.split('x').map(Number);
        const shape = w > h ? 'Landscape' : w < h ? 'Portrait' : 'Square';
        return [s, `${shape} ${Math.min(w, h)}p · ${w} × ${h}`];
    });
}
function durationChoices(info) {
    const secs = Array.isArray(info.durations) ? info.durations.filter((d) => Number.isInteger(d) && d > 0) : [];
    return secs.map((d) => [String(d), `${d} seconds`]);
}
const DEFAULT_OPTIONS = { image: 'size seed', video: 'size duration seed', text: '' };

const NOUN = { image: 'image', video: 'video', text: 'answer' };

/* ---- small helpers ------------------------------------------------------ */

/* Builds an element: props become attributes (class, text, on<event> and
 * booleans handled), children are nodes or strings (always as text). */
export function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
        if (v == null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
        if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
    }
    return el;
}

const bytesText = (n) => (n < MIB ? `${Math.max(1, Math.round(n / 1024))} KB` : `${(n / MIB).toFixed(1)} MB`);

let uid = 0;
const nextId = (p) => `nbm-${p}-${++uid}`;
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
export const creditsText = (n) => plural(Number(n) || 0, 'credit', 'credits');

function clock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export function when(iso) {
    const t = Date.parse(iso);
    return Number.isFinite(t) ? dateFmt.format(t) : '';
}

function extOf(output) {
    const m = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(output.url || '');
    if (m) return m[1].toLowerCase();
    return ({ 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'video/webm': 'webm', 'video/mp4': 'mp4' })[output.mime] || 'bin';
}

/* Same-origin URLs only: outputs come from our own /<m>/media/. */
export function safeUrl(u) {
    try {
        const url = new URL(u, location.href);
        return url.origin === location.origin ? url.pathname + url.search : null;
    } catch {
        return null;
    }
}

function isVideo(o) {
    return /^video\//.test(o.mime || '') || /\.(webm|mp4)$/i.test(o.url || '');
}

/* The words for a prompt over the server's limit (max, from /api/models'
 * promptMaxBytes), which counts UTF-8 bytes (a CJK character is 3), or
 * null when it fits. */
function promptTooLong(text, noun, max) {
    const bytes = new TextEncoder().encode(text).length;
    if (!(max > 0) || bytes <= max) return null;
    const about = Math.floor(max * [...text].length / bytes);
    return {
        field: 'prompt',
        text: `This ${noun} is too long: it may have at most ${max} bytes (about ${about} characters of this text), and it has ${bytes}. Shorten it and try again.`,
    };
}

/* ---- the API ------------------------------------------------------------ */

/* A refusal or failure, with the fields of the JSON error it carried. */
export class ApiError extends Error {
    constructor(status, body) {
        super((body && body.error) || `HTTP ${status}`);
        this.status = status;
        this.code = (body && typeof body.error === 'string') ? body.error : '';
        this.field = body && typeof body.field === 'string' ? body.field : '';
        this.detail = body && typeof body.message === 'string' ? body.message : '';
    }
}

/* The account this page was made for: the shared header's data-nb-user
 * ('' on a page without it).  Every call sends it as X-Nano-User, and
 * the server refuses one made after another account signed in in
 * another tab (401 session_changed): answered, it showed that account's
 * history and balance on this one's page, or generated as it. */
export function pageUser() {
    if (typeof document === 'undefined') return '';
    const header = document.querySelector('header[data-nb-user]');
    return header ? header.dataset.nbUser : '';
}

/* fetch on our own origin.  opts: method, json (sent as application/json),
 * form (FormData), signal, accept.  Resolves with the Response when it is
 * 2xx; rejects with ApiError (status 0: the network) or an AbortError. */
export async function call(path, opts = {}) {
    const init = {
        method: opts.method || 'GET',
        credentials: 'same-origin',
        headers: { Accept: opts.accept || 'application/json', ...opts.headers },
        signal: opts.signal,
    };
    const user = pageUser();
    if (user) init.headers['X-Nano-User'] = user;
    if (opts.json !== undefined) {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(opts.json);
    } else if (opts.form) {
        init.body = opts.form;
    }
    let res;
    try {
        res = await fetch(path, init);
    } catch (e) {
        if (e && e.name === 'AbortError') throw e;
        throw new ApiError(0, { error: 'network' });
    }
    noteServerClock(res);
    if (res.ok) {
        if (path !== '/api/auth/session') headerSignedOut(false);
        return res;
    }
    let body = {};
    try {
        body = await res.json();
    } catch {
        body = {};
    }
    if (res.status === 401 && body.error !== 'session_changed') headerSignedOut(true);
    throw new ApiError(res.status, body);
}

/* The shared header while this page's session has ended (a 401: signed
 * out in another tab, its lifetime over, the account deleted).  It went
 * on showing the balance and the account's links (found by the
 * error-journey probe); now they hide and a Sign in link back to this
 * page stands in their place (ui.css, .nb-signed-out), until a call
 * that needs the session answers again (a sign-in in another tab).
 * /api/auth/session answers 200 signed out too, so it does not count. */
function headerSignedOut(ended) {
    const user = document.querySelector('.nb-header .nb-user');
    const out = user?.querySelector('a[href*="/api/auth/signout"]');
    if (!out || user.classList.contains('nb-signed-out') === ended) return;
    if (ended && !user.querySelector('.nb-signin-again')) {
        user.append(h('a', {
            class: 'nb-signin-again',
            href: out.getAttribute('href').replace('/api/auth/signout', '/api/auth/signin'),
            text: 'Sign in',
        }));
    }
    user.classList.toggle('nb-signed-out', ended);
}

/* Whether this page's account is still the one signed in: null, or the
 * ApiError of GET /api/auth/session, a call that names it (401: ended
 * or another account's; status 0: the network). */
function sessionRefusal() {
    return call('/api/auth/session').then(() => null, (e) => e);
}

/* A download link (<a download>) cannot send X-Nano-User: after another
 * account signed in in another tab, this page's "Download" fetched that
 * account's file, and after a sign-out the download failed with nothing
 * said here.  So a click first asks sessionRefusal() and awaits
 * judge(refusal or null), which says on the page what went wrong and
 * resolves whether the download goes on; only then does the link's own
 * download go on, streamed to disk by the browser.  With head, the
 * refusal may also be that of a HEAD of the link itself, which answers
 * what its GET would without writing the file: the platform's export
 * and ledger CSV are one at a time per user (429), and a refused link
 * download showed the raw JSON, or a failed download, with nothing said
 * on the page (found by the endsui probe).  A HEAD's refusal has no
 * body: an ApiError with its status only.  Without JavaScript the plain
 * link still downloads the signed-in account's. */
export function checkedDownload(link, judge, { head = false } = {}) {
    let checked = false;
    link.addEventListener('click', async (e) => {
        if (checked) {
            checked = false;
            return;
        }
        e.preventDefault();
        if (link.getAttribute('aria-busy') === 'true') return;
        link.setAttribute('aria-busy', 'true');
        let ok = false;
        try {
            let refusal = await sessionRefusal();
            if (!refusal && head) {
                refusal = await call(link.href, { method: 'HEAD', accept: '*/*' }).then(() => null, (x) => x);
            }
            ok = await judge(refusal);
        } finally {
            link.removeAttribute('aria-busy');
        }
        if (!ok) return;
        checked = true;
        link.click();
    });
}

/* How far the server's clock is ahead of this browser's (ms), from the
 * Date header of its answers; 0 while under 2 s, which the header's
 * whole seconds and the trip cannot tell from none.  A job's createdAt
 * is the server's time: timed against a browser clock hours off, a
 * resumed job's counter showed 0:00 or hours (noticed by a probe). */
let serverAhead = 0;
function noteServerClock(res) {
    const at = Date.parse(res.headers.get('Date') || '');
    if (!Number.isFinite(at)) return;
    const ahead = at - Date.now();
    serverAhead = Math.abs(ahead) >= 2000 ? ahead : 0;
}

/* A new Idempotency-Key: random, and made where crypto.randomUUID is
 * missing too (a page served over plain http on another name). */
export function newKey() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/* Answers after which a job's request may have been admitted all the
 * same (no answer at all, or the gateway or database failing): sent
 * once more under the same key, which finds it if it was. */
const UNSURE = new Set([0, 502, 503, 504]);

export async function callJSON(path, opts) {
    const res = await call(path, opts);
    try {
        return await res.json();
    } catch {
        throw new ApiError(res.status, { error: 'bad_response' });
    }
}

/* ---- errors in words ---------------------------------------------------- */

const FIELD_WORDS = {
    prompt: 'prompt', model: 'model', size: 'size', aspectRatio: 'aspect ratio',
    seed: 'seed', duration: 'duration', image: 'image', messages: 'conversation',
    conversationId: 'conversation',
};

const FIELD_SAYS = {
    prompt: 'The prompt was not accepted: it may be empty or too long.',
    seed: `The seed must be a whole number from 0 to ${SEED_MAX}.`,
    image: 'That file is not a PNG, JPEG or WebP image.',
    conversationId: 'This conversation can no longer be continued. Start a new conversation.',
};

const REFUND = ' Your credits were refunded.';

const REFUSED_FILE = 'The image you chose was not accepted, so there is nothing to edit. Choose a PNG, JPEG or WebP image, or press Generate again to make a new image from the prompt alone.';

/* What went wrong inside a generation ({"code","message"}), in words.
 * provider_quota is a busy provider and an account out of money alike
 * (docs/PROVIDERS.md): only the operators can mend the second. */
const GENERATION_SAYS = {
    provider_auth: 'The provider refused this module’s key, so it cannot generate right now. Please tell the site’s operators.',
    provider_quota: 'The provider is over its quota or too busy right now. Try again in a few minutes; if it keeps failing, please tell the site’s operators.',
    blocked: 'The provider’s safety filter blocked this prompt or what it made. Try rewording it.',
    bad_request: 'The provider could not accept this request. Try a different prompt or other options.',
    provider_error: 'The provider had a problem and could not finish. Try again shortly.',
    timeout: 'The provider took too long to answer. Try again shortly.',
    bad_response: 'The provider sent an answer that could not be read. Try again.',
    stream_cut: 'The provider cut the answer off before it was finished.',
    interrupted: 'The server stopped while the provider was working on this, and it was not sent again so that you are not charged twice. Try again.',
    client_gone: 'It was stopped, or the page was closed, before any text came.',
    unreadable: 'This generation’s stored data could not be read. Please tell the site’s operators.',
    storage: 'The server could not store the result. Please tell the site’s operators.',
};

/* This page's path and query as a link back to it, with one leading
 * slash.  nginx serves a page at //evil.example/..%2fqwen/ too (it
 * decodes %2f and resolves the dots), and that path as an href is a
 * link to evil.example (found by the security probe). */
function hereHref() {
    return `/${location.pathname.replace(/^\/+/, '')}${location.search}`;
}

/* Returns {text, link?, field?} for an ApiError, a generation error
 * ({code}) or anything else: never the raw body. */
export function explain(err) {
    if (err && !(err instanceof ApiError) && typeof err.code === 'string') {
        const said = GENERATION_SAYS[err.code];
        return { text: (said || 'The generation failed.') + REFUND };
    }
    if (!(err instanceof ApiError)) {
        return { text: 'Something went wrong on this page. Reload it and try again.' };
    }
    const { status, code, field } = err;
    if (status === 0) {
        return { text: 'The server could not be reached. Check your connection and try again.' };
    }
    if (code === 'insufficient_credits' || status === 402) {
        return { text: 'You do not have enough credits for this.', link: { href: '/billing', text: 'Buy credits' } };
    }
    if (field === 'prompt' && err.detail) {
        /* the server says which: empty, too long, not text */
        return { field, text: `The prompt was not accepted: ${err.detail}.` };
    }
    if (code === 'invalid_field' || (status === 400 && field)) {
        const words = FIELD_WORDS[field] || 'option';
        return { field, text: FIELD_SAYS[field] || `This ${words} is not accepted. Choose another ${words} and try again.` };
    }
    if (code === 'too_many_in_flight') {
        return { text: 'You already have as many generations running here as allowed. Wait for one to finish, then try again.' };
    }
    if (code === 'too_many_streams' || code === 'too_many_answers') {
        return { text: 'Too many answers are being written right now. Try again in a moment.' };
    }
    if (status === 429) return { text: 'Too many requests in a short time. Wait a minute, then try again.' };
    if (status === 413) {
        /* the server also refuses an image by its pixels, whatever its
         * bytes ("the image may have at most 25 megapixels"); nginx's
         * own 413 (the body's bytes) has no JSON */
        const mp = /(\d+) megapixels/.exec(err.detail);
        if (mp) return { field: 'image', text: `That image has too many pixels: it may have at most ${mp[1]} megapixels. Scale it down and try again.` };
        return { field: 'image', text: 'That file is too large: images can be up to 10 MB.' };
    }
    if (status === 415) return { field: 'image', text: 'That kind of file is not accepted. Use a PNG, JPEG or WebP image.' };
    if (code === 'session_changed') {
        return {
            text: 'Another account signed in, in another tab or window, since this page was opened. Reload the page to continue as that account.',
            link: { href: hereHref(), text: 'Reload' },
        };
    }
    if (status === 401) {
        // This page again: the gateway sends it to sign-in with the way
        // back it knows (an absolute one on a module's own subdomain,
        // where a relative callbackUrl came back to the platform's path).
        return {
            text: 'Your session has ended. Sign in again to continue.',
            link: { href: hereHref(), text: 'Sign in' },
        };
    }
    if (status === 403) return { text: 'The request was refused because it did not come from this page. Reload the page and try again.' };
    if (status === 404) return { text: 'That generation no longer exists.' };
    if (code === 'running') return { text: 'This is still being generated. Wait until it ends, then delete it.' };
    if (code === 'not_queued') return { text: 'It has already started, so it can no longer be canceled.' };
    if (code === 'bad_response') return { text: 'The server sent an answer that could not be read. Try again.' };
    if (GENERATION_SAYS[code]) return { text: GENERATION_SAYS[code] + REFUND };
    if (status === 502 || status === 503 || status === 504) {
        return { text: 'This module is not answering right now. Try again shortly.' };
    }
    return { text: 'Something went wrong. Please try again.' };
}

/* The words for a generation's "error" ({"code","message"}). */
function generationError(e) {
    return explain({ code: e && typeof e.code === 'string' ? e.code : '' });
}

/* Shows an explanation in a role=alert element (empty clears it). */
export function showError(el, info) {
    el.replaceChildren();
    if (!info) return;
    el.append(info.text);
    if (info.link) el.append(' ', h('a', { href: info.link.href, text: info.link.text }));
}

/* ---- server-sent events ------------------------------------------------- */

/* Incremental text/event-stream parser: push() text as it arrives (split
 * anywhere, CRLF or LF), get back the complete events {event, data}. */
export class SSEParser {
    constructor() {
        this.buf = '';
        this.cr = false;
    }

    push(text) {
        if (this.cr) text = '\r' + text;
        this.cr = text.endsWith('\r');
        if (this.cr) text = text.slice(0, -1);
        this.buf += text.replace(/\r\n?/g, '\n');
        const out = [];
        let i;
        while ((i = this.buf.indexOf('\n\n')) >= 0) {
            const ev = SSEParser.block(this.buf.slice(0, i));
            this.buf = this.buf.slice(i + 2);
            if (ev) out.push(ev);
        }
        return out;
    }

    /* What is left when the stream ends (an event without its blank line). */
    end() {
        const ev = SSEParser.block(this.buf + (this.cr ? '\n' : ''));
        this.buf = '';
        this.cr = false;
        return ev ? [ev] : [];
    }

    static block(text) {
        let event = 'message';
        const data = [];
        for (const line of text.split('\n')) {
            if (line === '' || line.startsWith(':')) continue;
            const c = line.indexOf(':');
            const name = c < 0 ? line : line.slice(0, c);
            let value = c < 0 ? '' : line.slice(c + 1);
            if (value.startsWith(' ')) value = value.slice(1);
            if (name === 'event') event = value;
            else if (name === 'data') data.push(value);
        }
        return data.length ? { event, data: data.join('\n') } : null;
    }
}

/* Yields the events of a Response body as they arrive. */
async function* sseEvents(res) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SSEParser();
    try {
        for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            yield* parser.push(decoder.decode(value, { stream: true }));
        }
        yield* parser.push(decoder.decode());
        yield* parser.end();
    } finally {
        reader.releaseLock();
    }
}

function parseData(ev) {
    try {
        const v = JSON.parse(ev.data);
        return v && typeof v === 'object' ? v : {};
    } catch {
        return {};
    }
}

/* ---- elapsed clocks ----------------------------------------------------- */

/* Elements with data-since (epoch ms) show the time since then, each second. */
let ticker = 0;
function tickClocks() {
    const clocks = document.querySelectorAll('[data-since]');
    for (const el of clocks) el.textContent = clock(Date.now() - Number(el.dataset.since));
    if (!clocks.length) {
        clearInterval(ticker);
        ticker = 0;
    }
}
function clockEl(since) {
    /* a timer is not read out at each tick, even inside a live region */
    const el = h('span', { class: 'nbm-clock', role: 'timer', 'aria-live': 'off', 'data-since': since, text: clock(Date.now() - since) });
    if (!ticker) ticker = setInterval(tickClocks, 1000);
    return el;
}

/* ---- polling a generation ------------------------------------------------ */

/* One poller per generation id, shared by whoever watches it: GET
 * {base}/api/generations/{id} with backoff (0.5 s growing to a cap) until
 * it ends.  A watcher gets (generation) on each answer, (null, ApiError)
 * when a poll fails (it goes on), and ({id, status: 'gone'}) on a 404. */
class Watcher {
    constructor(base, cap) {
        this.base = base;
        this.cap = cap;
        this.polls = new Map();
    }

    watch(id, fn) {
        let p = this.polls.get(id);
        if (!p) {
            p = { fns: new Set(), delay: 500, timer: 0 };
            this.polls.set(id, p);
            p.timer = setTimeout(() => this.tick(id, p), p.delay);
        }
        p.fns.add(fn);
        return () => p.fns.delete(fn);
    }

    /* Stops polling id: it was deleted, and its next poll would be a 404. */
    stop(id) {
        const p = this.polls.get(id);
        if (!p) return;
        clearTimeout(p.timer);
        this.polls.delete(id);
    }

    emit(p, g, err) {
        for (const fn of [...p.fns]) fn(g, err);
    }

    async tick(id, p) {
        try {
            const g = await callJSON(`${this.base}/api/generations/${encodeURIComponent(id)}`);
            if (this.polls.get(id) !== p) return undefined;    /* stopped meanwhile */
            this.emit(p, g);
            if (FINAL.has(g.status)) return this.polls.delete(id);
        } catch (e) {
            if (this.polls.get(id) !== p) return undefined;
            if (e.status === 404) {
                this.emit(p, { id, status: 'gone' });
                return this.polls.delete(id);
            }
            this.emit(p, null, e);
        }
        p.delay = Math.min(this.cap, Math.round(p.delay * 1.5));
        p.timer = setTimeout(() => this.tick(id, p), p.delay);
        return undefined;
    }
}

/* ---- balance -------------------------------------------------------------- */

/* The session's renewal.  Only GET /api/auth/session re-issues a token
 * (NextAuth's updateAge: a thirtieth of NANO_SESSION_MAX_AGE), and only
 * the settings page asked it: with a short lifetime (an hour, say) a
 * session ended that long after sign-in, however busy its user on a
 * module page or the dashboard (found by the review probe).  As
 * next-auth/react's SessionProvider asks on the window's focus, every
 * page with the header asks on focus, a shown tab and the user's own
 * input, at most every KEEP_MS (the least renewal age, 10 s): the
 * platform re-issues only a token past its renewal age, and otherwise
 * answers from the token.  An ended session says nothing here: the
 * page's next request says it, in words. */
const KEEP_MS = 10000;
let keptAt = 0;
function keepSession() {
    if (keptAt) return;
    keptAt = Date.now();
    const ask = () => {
        if (document.visibilityState !== 'visible' || Date.now() - keptAt < KEEP_MS) return;
        keptAt = Date.now();
        // whoever is signed in now (no X-Nano-User: another tab's account
        // is this page's next request's to say); keepalive: a click that
        // leaves the page does not abort it
        fetch('/api/auth/session', { credentials: 'same-origin', keepalive: true }).catch(() => {});
    };
    for (const ev of ['pointerdown', 'keydown']) document.addEventListener(ev, ask, { capture: true, passive: true });
    document.addEventListener('visibilitychange', ask);
    window.addEventListener('focus', ask);
}

/* The balance in the shared header: an element [data-nb-balance] if the
 * header has one, else a chip this script adds to the header's .nb-user.
 * Every page with the header uses it (module pages, dashboard, settings).
 * Another tab may spend meanwhile: it is fetched again when the tab is
 * shown or focused, at most every REFETCH_MS. */
const REFETCH_MS = 5000;
export class Balance {
    constructor() {
        keepSession();
        this.value = null;
        this.listeners = new Set();
        this.fetchedAt = 0;
        this.el = document.querySelector('[data-nb-balance]');
        if (!this.el) {
            const user = document.querySelector('.nb-header .nb-user');
            if (!user) return;
            this.el = h('span', { class: 'nbm-balance', 'data-nb-balance': true, hidden: true });
            user.prepend(this.el);
        }
        this.el.title = 'Your credit balance';
        const again = () => {
            if (document.visibilityState === 'visible' && Date.now() - this.fetchedAt >= REFETCH_MS) this.refresh();
        };
        document.addEventListener('visibilitychange', again);
        window.addEventListener('focus', again);
    }

    async refresh() {
        this.fetchedAt = Date.now();
        try {
            const c = await callJSON('/api/credits?limit=1');
            if (typeof c.balance === 'number') this.show(c.balance);
        } catch {
            /* the balance is a courtesy: a failure leaves it as it was */
        }
    }

    /* Shows a balance the page learnt otherwise (the dashboard's call). */
    show(n) {
        this.value = n;
        if (this.el) {
            this.el.replaceChildren(h('span', { class: 'nbm-visually-hidden', text: 'Balance: ' }), creditsText(n));
            this.el.hidden = false;
        }
        for (const fn of this.listeners) fn(this.value);
    }

    onChange(fn) {
        this.listeners.add(fn);
    }
}

/* ---- the model picker and the cost ----------------------------------------- */

/* A select when there are several models, a line of text for one; the
 * offline badge when /api/models says so. */
function modelPicker(info, onChange) {
    const models = Array.isArray(info.models) ? info.models : [];
    const id = nextId('model');
    let control;
    if (models.length > 1) {
        control = h('select', { id, name: 'model', class: 'nbm-input', onchange: () => onChange() },
            models.map((m) => h('option', { value: m.id, text: `${m.label || m.id} · ${creditsText(m.cost)}` })));
    }
    const wrap = h('div', { class: 'nbm-model' },
        control
            ? h('label', { class: 'nbm-field', for: id }, h('span', { class: 'nbm-label', text: 'Model' }), control)
            : h('p', { class: 'nbm-model-name' },
                h('span', { class: 'nbm-label', text: 'Model' }), ' ',
                h('span', { text: models[0] ? models[0].label || models[0].id : info.title || '' })));
    if (info.offline) {
        wrap.append(h('p', { class: 'nbm-offline' },
            h('span', { class: 'nbm-badge nbm-badge-offline', text: 'Offline provider' }), ' ',
            h('span', { class: 'nbm-muted', text: 'No provider key is set here: results are placeholders made on this server.' })));
    }
    return {
        el: wrap,
        get model() {
            return control ? models.find((m) => m.id === control.value) : models[0];
        },
    };
}

/* The price on the button ("Generate · 4 credits") and, when the balance
 * is known and short, a hint with the way to buy credits. */
function showCost(tool, verb) {
    const m = tool.picker.model;
    const cost = m ? Number(m.cost) || 0 : null;
    tool.button.textContent = cost == null ? verb : `${verb} · ${creditsText(cost)}`;
    const short = cost != null && tool.balance.value != null && tool.balance.value < cost;
    tool.lowHint.hidden = !short;
    tool.lowHint.replaceChildren();
    if (short) {
        tool.lowHint.append(`Your balance (${creditsText(tool.balance.value)}) does not cover this. `,
            h('a', { href: '/billing', text: 'Buy credits' }));
    }
}

/* ---- dialogs ------------------------------------------------------------ */

/* The detail dialog and the delete confirmation, one of each per page. */
class Dialogs {
    constructor(host) {
        this.detailTitle = h('h2', { id: nextId('dlg'), class: 'nbm-dialog-title' });
        this.detailBody = h('div', { class: 'nbm-dialog-body' });
        this.detail = h('dialog', { class: 'nbm-dialog', 'aria-labelledby': this.detailTitle.id },
            h('div', { class: 'nbm-dialog-head' }, this.detailTitle,
                h('button', { type: 'button', class: 'nbm-button-quiet nbm-close', onclick: () => this.detail.close() }, 'Close')),
            this.detailBody);
        this.detail.addEventListener('close', () => {
            for (const v of this.detail.querySelectorAll('video')) v.pause();
            for (const u of this.blobs || []) URL.revokeObjectURL(u);
            this.blobs = [];
            this.detailBody.replaceChildren();
            /* focus goes where close(next) said, else back where it was,
             * or (that entry deleted) to a fallback */
            const back = this.next || (this.opener && this.opener.isConnected ? this.opener : this.fallback);
            this.next = null;
            back?.focus();
        });

        const msgId = nextId('confirm');
        this.confirmText = h('p', { id: msgId });
        this.confirmOk = h('button', { type: 'submit', value: 'ok', class: 'nbm-button-danger' }, 'Delete');
        this.confirmCancel = h('button', { type: 'submit', value: 'cancel', class: 'nbm-button-quiet', autofocus: true }, 'Cancel');
        this.confirm = h('dialog', { class: 'nbm-dialog nbm-dialog-small', 'aria-describedby': msgId, 'aria-label': 'Delete' },
            h('form', { method: 'dialog', class: 'nbm-confirm' }, this.confirmText,
                h('div', { class: 'nbm-actions' }, this.confirmCancel, this.confirmOk)));
        host.append(this.detail, this.confirm);
    }

    /* Opens the detail dialog with title and content nodes. */
    open(title, ...content) {
        this.detailTitle.textContent = title;
        this.detailBody.replaceChildren(...content);
        if (this.detail.open) return;
        this.opener = document.activeElement;
        this.detail.showModal();
    }

    /* Closes the detail dialog; next: where focus goes then (the close
     * event comes after the caller's own focus() and would undo it). */
    close(next) {
        if (!this.detail.open) return;
        this.next = next || null;
        this.detail.close();
    }

    /* Resolves true when the person confirms. */
    ask(text, okLabel) {
        this.confirmText.textContent = text;
        this.confirmOk.textContent = okLabel || 'Delete';
        this.confirm.returnValue = '';
        this.confirm.showModal();
        this.confirmCancel.focus();
        return new Promise((resolve) => {
            this.confirm.addEventListener('close', () => resolve(this.confirm.returnValue === 'ok'), { once: true });
        });
    }

    blobUrl(blob) {
        const u = URL.createObjectURL(blob);
        (this.blobs ||= []).push(u);
        return u;
    }
}

/* ---- history ------------------------------------------------------------ */

/* GET {base}/api/history as a grid (image, video) or list (text), with
 * Load more, open (the detail dialog), download and delete. */
class History {
    constructor(tool) {
        this.tool = tool;
        this.cursor = null;
        this.loading = false;
        const grid = tool.kind !== 'text';
        this.list = h('ul', { class: grid ? 'nbm-grid' : 'nbm-list', 'aria-label': 'Your generations' });
        this.empty = h('p', { class: 'nbm-empty', hidden: true, text: `Nothing here yet. Your ${NOUN[tool.kind]}s will appear here.` });
        this.status = h('p', { class: 'nbm-status', role: 'status' });
        this.error = h('p', { class: 'nbm-error', role: 'alert' });
        this.more = h('button', { type: 'button', class: 'nbm-button-quiet nbm-more', hidden: true, onclick: () => this.load() }, 'Load more');
        this.watched = new Set();
        this.heading = h('h2', { id: nextId('hist'), tabindex: '-1', text: 'History' });
        this.el = h('section', { class: 'nbm-history', 'aria-labelledby': this.heading.id },
            h('div', { class: 'nbm-section-head' }, this.heading, this.status),
            this.error, this.empty, this.list, this.more);
    }

    /* Resolves with the page's items (undefined when it failed). */
    async load() {
        if (this.loading) return undefined;
        this.loading = true;
        const release = hold(this.more);
        let first = null;
        this.more.textContent = 'Loading…';
        showError(this.error, null);
        const q = new URLSearchParams({ limit: String(PAGE_SIZE[this.tool.kind]) });
        if (this.cursor) q.set('cursor', this.cursor);
        let failed = true;
        try {
            const page = await callJSON(`${this.tool.base}/api/history?${q}`);
            const items = Array.isArray(page.items) ? page.items : [];
            for (const item of items) {
                if (this.find(item.id)) continue;
                const li = this.render(item);
                this.list.append(li);
                first ||= li;
            }
            this.cursor = page.nextCursor || null;
            this.read = true;
            failed = false;
            return items;
        } catch (e) {
            showError(this.error, explain(e));
        } finally {
            this.loading = false;
            /* a page that could not be read is not an empty history: the
             * button asks for it again (the first one: "Try again") */
            this.more.textContent = failed && !this.read ? 'Try again' : 'Load more';
            this.more.hidden = !this.cursor && !failed;
            this.empty.hidden = this.list.children.length > 0 || failed;
            /* at the end, a keyboard user goes on at the first entry
             * loaded: that entry itself, not the one at the count from
             * before the load (a job that ended meanwhile went first in
             * the list, and the focus landed on the entry before the
             * page loaded; found by the endsui probe) */
            release(this.more.hidden ? (first && first.querySelector('button, a')) || this.heading : this.more);
        }
        return undefined;
    }

    find(id) {
        return [...this.list.children].find((li) => li.dataset.id === String(id));
    }

    /* Puts item first, or replaces its entry where it is; focus inside
     * the old entry moves to the new one's control of the same kind (a
     * keyboard user's place is not lost when a job changes state). */
    upsert(item) {
        const li = this.render(item);
        const old = this.find(item.id);
        const had = old && old.contains(document.activeElement) ? document.activeElement : null;
        if (old) old.replaceWith(li);
        else this.list.prepend(li);
        this.empty.hidden = true;
        if (had) sameControl(li, had)?.focus();
    }

    /* The last entry shown gone while the server has more: its next page,
     * never "Nothing here yet" (the cursor outlives the rows it names). */
    remove(id) {
        const li = this.find(id);
        if (li) {
            /* focus in it goes to the next entry's same control (the one
             * before at the end), or to the heading: never to the body */
            const had = li.contains(document.activeElement) ? document.activeElement : null;
            const next = li.nextElementSibling || li.previousElementSibling;
            li.remove();
            if (had) (next ? sameControl(next, had) : this.heading)?.focus();
        }
        if (this.list.children.length === 0 && this.cursor) this.load();
        else this.empty.hidden = this.list.children.length > 0;
    }

    render(item) {
        const li = this.tool.kind === 'text' ? this.textRow(item) : this.card(item);
        li.dataset.id = item.id;
        if (!FINAL.has(item.status) && !this.watched.has(item.id)) {
            this.watched.add(item.id);
            this.tool.watcher.watch(item.id, (g) => {
                if (g && g.status === 'gone') this.remove(item.id);
                else if (g && (FINAL.has(g.status) || g.status !== item.status)) this.upsert(g);
            });
        }
        return li;
    }

    card(item) {
        const out = (item.outputs || [])[0];
        const url = out && safeUrl(out.url);
        const label = `Open: ${item.prompt || 'generation'}`;
        let thumb;
        if (item.status === 'succeeded' && url) {
            thumb = watchMedia(isVideo(out)
                ? h('video', { src: `${url}#t=0.1`, muted: true, preload: 'metadata', playsinline: true, tabindex: '-1', 'aria-hidden': 'true' })
                : h('img', { src: url, alt: '', loading: 'lazy', width: out.width, height: out.height }),
            (info) => showError(this.error, info));
        } else {
            thumb = h('span', { class: 'nbm-thumb-status' }, statusBadge(item),
                h('span', { class: 'nbm-thumb-reason', text: shortReason(item) }));
        }
        return h('li', { class: 'nbm-card' },
            h('button', { type: 'button', class: 'nbm-thumb', 'aria-label': label, onclick: () => this.open(item) },
                thumb, isVideo(out || {}) && url ? h('span', { class: 'nbm-play', 'aria-hidden': 'true' }) : null),
            h('div', { class: 'nbm-card-body' },
                h('p', { class: 'nbm-card-prompt', dir: 'auto', text: item.prompt || '' }),
                h('p', { class: 'nbm-card-meta', text: when(item.createdAt) })),
            h('div', { class: 'nbm-card-actions' },
                url ? this.downloadLink(item, out, 0, 'Download') : null,
                this.deleteButton(item)));
    }

    textRow(item) {
        const snippet = item.status === 'succeeded' || item.text ? (item.text || '') : shortReason(item) || statusWord(item);
        return h('li', { class: 'nbm-row' },
            h('button', { type: 'button', class: 'nbm-row-open', onclick: () => this.open(item) },
                h('span', { class: 'nbm-row-prompt', dir: 'auto', text: item.prompt || 'Conversation' }),
                h('span', { class: 'nbm-row-snippet', dir: 'auto', text: snippet })),
            h('span', { class: 'nbm-row-meta' }, when(item.createdAt),
                item.partial ? [' · ', h('span', { class: 'nbm-badge nbm-badge-canceled', text: 'Stopped early' })]
                    : item.status === 'succeeded' ? null : [' · ', statusBadge(item)]),
            this.deleteButton(item));
    }

    /* A link that downloads an output, asking first whose page this is
     * (checkedDownload): after a sign-out it saved the sign-in page
     * under the output's name.  What went wrong shows in errEl. */
    downloadLink(item, out, n, text, errEl = this.error) {
        const url = safeUrl(out.url);
        const a = h('a', {
            class: 'nbm-button-quiet', href: url, download: `${this.tool.name}-${item.id}-${n}.${extOf(out)}`,
            'aria-label': `${text}: ${item.prompt || 'generation'}`,
        }, text);
        checkedDownload(a, (e) => {
            /* only whose page it is stops it: the platform not
             * answering says nothing about this module's file */
            if (!(e instanceof ApiError) || e.status !== 401) return true;
            showError(errEl, explain(e));
            return false;
        });
        return a;
    }

    deleteButton(item) {
        return h('button', {
            type: 'button', class: 'nbm-button-quiet nbm-delete',
            'aria-label': `Delete: ${item.prompt || 'generation'}`, onclick: () => this.confirmDelete(item),
        }, 'Delete');
    }

    /* DELETE after a confirmation; says so, or why not. */
    async confirmDelete(item, errorEl) {
        const noun = NOUN[this.tool.kind];
        const ok = await this.tool.dialogs.ask(
            `Delete this ${noun}? It is removed from your history${this.tool.kind === 'text' ? '' : ' and its file is deleted'} for good.`);
        if (!ok) return false;
        try {
            await call(`${this.tool.base}/api/generations/${encodeURIComponent(item.id)}`, { method: 'DELETE' });
        } catch (e) {
            showError(errorEl || this.error, explain(e));
            if (e.status === 404) this.remove(item.id);
            return false;
        }
        this.tool.watcher.stop(item.id);
        this.remove(item.id);
        this.tool.forget(item.id);
        /* a job deleted before it ended was refunded */
        if (!FINAL.has(item.status)) this.tool.balance.refresh();
        this.status.textContent = `Deleted the ${noun}.`;
        this.tool.dialogs.close();
        return true;
    }

    /* The detail dialog: the whole output, its facts and its actions. */
    open(item) {
        const tool = this.tool;
        const err = h('p', { class: 'nbm-error', role: 'alert' });
        const parts = [];
        const outputs = (item.outputs || []).filter((o) => safeUrl(o.url));
        if (tool.kind === 'text') {
            parts.push(h('h3', { class: 'nbm-label', text: 'You asked' }), h('p', { class: 'nbm-prose', dir: 'auto', text: item.prompt || '' }));
            if (item.text) parts.push(h('h3', { class: 'nbm-label', text: tool.title }), h('div', { class: 'nbm-prose', dir: 'auto', text: item.text }));
        } else {
            for (const o of outputs) parts.push(mediaFigure(o, item));
            parts.push(h('h3', { class: 'nbm-label', text: 'Prompt' }), h('p', { class: 'nbm-prose', dir: 'auto', text: item.prompt || '' }));
        }
        if (item.status === 'failed') parts.push(h('p', { class: 'nbm-error' }, generationError(item.error).text));
        if (item.status === 'canceled') parts.push(h('p', { class: 'nbm-muted', text: 'Canceled before it started; the credits were refunded.' }));
        if (item.partial) parts.push(h('p', { class: 'nbm-muted', text: 'Stopped before the end: this is the part written until then, and it was charged.' }));
        parts.push(factList(item, tool));

        const actions = h('div', { class: 'nbm-actions' });
        if (tool.kind === 'text' && item.text) {
            const url = tool.dialogs.blobUrl(new Blob([item.text], { type: 'text/plain' }));
            actions.append(h('a', { class: 'nbm-button-quiet', href: url, download: `${tool.name}-${item.id}.txt` }, 'Download text'));
        }
        outputs.forEach((o, n) => actions.append(this.downloadLink(item, o, n, outputs.length > 1 ? `Download ${n + 1}` : 'Download', err)));
        if (tool.kind === 'text' && item.conversationId && item.status === 'succeeded') {
            actions.append(h('button', {
                type: 'button', class: 'nbm-button-quiet',
                onclick: () => { tool.dialogs.close(tool.prompt); tool.continueFrom(item); },
            }, 'Continue this conversation'));
        }
        if (tool.upload && item.status === 'succeeded' && outputs[0] && !isVideo(outputs[0])) {
            actions.append(h('button', {
                type: 'button', class: 'nbm-button-quiet',
                onclick: () => { tool.dialogs.close(tool.prompt); tool.editFrom(item, outputs[0]); },
            }, 'Edit this image'));
        }
        if (item.status === 'queued') {
            actions.append(h('button', {
                type: 'button', class: 'nbm-button-quiet',
                onclick: async () => {
                    try {
                        /* the answer is {id, status}: the rest is item's */
                        tool.canceled({ ...item, ...await tool.cancel(item.id) });
                        tool.dialogs.close();
                    } catch (e) {
                        showError(err, explain(e));
                    }
                },
            }, 'Cancel'));
        }
        actions.append(h('button', {
            type: 'button', class: 'nbm-button-danger', onclick: () => this.confirmDelete(item, err),
        }, 'Delete'));
        parts.push(err, actions);
        tool.dialogs.open(tool.kind === 'text' ? 'Answer' : `Your ${NOUN[tool.kind]}`, ...parts);
    }
}

/* Disables button while work runs.  A disabled button drops the focus
 * to the body, where a keyboard or screen-reader user loses their place:
 * the function returned enables it again and, when the button had the
 * focus and nothing took it meanwhile, focuses target (the button, or
 * what took its place). */
function hold(button) {
    const had = document.activeElement === button;
    button.disabled = true;
    return (target = button) => {
        button.disabled = false;
        const now = document.activeElement;
        if (had && (!now || now === document.body) && target && !target.hidden) target.focus();
    };
}

/* The control of history entry li of the same kind (classes) as el,
 * else its first button. */
function sameControl(li, el) {
    const classes = (el.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean);
    return (classes.length && li.querySelector(`.${classes.join('.')}`)) || li.querySelector('button');
}

/* A few words for a card that has no picture. */
const SHORT_REASON = {
    blocked: 'Blocked by the safety filter', provider_quota: 'Provider busy or over quota',
    provider_error: 'Provider error', provider_auth: 'Provider key refused', timeout: 'Timed out',
    bad_request: 'Request refused', bad_response: 'Unreadable answer', stream_cut: 'Cut off',
    interrupted: 'Interrupted', client_gone: 'Stopped before any text', unreadable: 'Cannot be read',
    storage: 'Not stored',
};
function shortReason(item) {
    if (item.status === 'failed') return SHORT_REASON[item.error && item.error.code] || 'Did not finish';
    if (item.status === 'canceled') return 'Canceled, refunded';
    return '';
}

function statusWord(item) {
    return ({
        queued: 'Queued', running: 'Generating', succeeded: 'Done', failed: 'Failed', canceled: 'Canceled',
    })[item.status] || 'Unknown';
}

function statusBadge(item) {
    return h('span', { class: `nbm-badge nbm-badge-${item.status}`, text: statusWord(item) });
}

/* An image or a video that does not load: on a page left open after its
 * session ended, or after another account signed in in another tab, the
 * gateway answers the sign-in page's 302 (or the backend 404) and the
 * element showed broken with no words.  Its error asks whether this
 * page's account is still the one signed in, and says(explanation) when
 * not; one question at a time for all of a page's media.  With noun (an
 * opened output, which has a note of its own), a signed-in page then asks
 * the file itself (one byte): a file the server no longer has (removed,
 * a restore that missed it, the generation deleted in another tab) showed
 * as an empty player or a broken image, while the server said why. */
let mediaAsking = null;
function watchMedia(media, says, noun = '') {
    media.addEventListener('error', async () => {
        mediaAsking ||= sessionRefusal().finally(() => { setTimeout(() => { mediaAsking = null; }, 1000); });
        const e = await mediaAsking;
        if (e instanceof ApiError && e.status === 401) says(explain(e));
        else if (!e && noun) says(await mediaGone(media.getAttribute('src'), noun));
    });
    return media;
}

/* The words for a file that did not load, when the server says it has
 * none (404); null otherwise (it is there: nothing more to say). */
async function mediaGone(url, noun) {
    if (!url) return null;
    try {
        await call(url, { accept: '*/*', headers: { Range: 'bytes=0-0' } });
    } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
            return { text: `This ${noun} is no longer on the server: it was removed or deleted.` };
        }
        if (e instanceof ApiError && e.status === 401) return explain(e);
    }
    return null;
}

function mediaFigure(o, item) {
    const url = safeUrl(o.url);
    const media = isVideo(o)
        ? h('video', { src: url, controls: true, playsinline: true, preload: 'metadata', width: o.width, height: o.height })
        : h('img', { src: url, alt: `Generated from: ${item.prompt || ''}`, width: o.width, height: o.height });
    const note = h('p', { class: 'nbm-error', role: 'alert' });
    watchMedia(media, (info) => showError(note, info), isVideo(o) ? 'video' : 'image');
    return h('figure', { class: 'nbm-figure' }, media, note);
}

/* Model, size, cost, dates: a definition list. */
function factList(item, tool) {
    const facts = [];
    const model = tool.models.find((m) => m.id === item.model);
    if (item.model) facts.push(['Model', model ? model.label || model.id : item.model]);
    const o = (item.outputs || [])[0];
    if (o && o.width && o.height) facts.push(['Size', `${o.width} × ${o.height}`]);
    const p = item.params || {};
    if (p.seed != null) facts.push(['Seed', String(p.seed)]);
    if (p.duration != null) facts.push(['Duration', `${p.duration} s`]);
    facts.push(['Status', item.partial ? 'Stopped early' : statusWord(item)]);
    if (item.cost != null) facts.push(['Cost', creditsText(item.cost) + (item.status === 'failed' || item.status === 'canceled' ? ' (refunded)' : '')]);
    if (item.createdAt) facts.push(['Created', when(item.createdAt)]);
    if (item.offline) facts.push(['Provider', 'Offline (placeholder result)']);
    return h('dl', { class: 'nbm-facts' }, facts.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
}

/* ---- image and video --------------------------------------------------- */

/* Returns 'image/png' etc. when the first bytes are PNG, JPEG or WebP. */
async function sniffImage(file) {
    const b = new Uint8Array(await file.slice(0, 12).arrayBuffer());
    if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
    if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
    const ascii = String.fromCharCode(...b);
    if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP') return 'image/webp';
    return null;
}

function selectField(name, label, choices, value) {
    const id = nextId(name);
    const select = h('select', { id, name, class: 'nbm-input' },
        choices.map(([v, text]) => h('option', { value: v, selected: v === value, text })));
    return h('label', { class: 'nbm-field', for: id }, h('span', { class: 'nbm-label', text: label }), select);
}

/* What both tools hold: settings, /api/models' answer, the balance and a
 * poller of generations (cap: its longest wait between polls, in ms). */
class Tool {
    constructor(cfg, info, balance, cap) {
        Object.assign(this, cfg);
        this.info = info;
        this.models = Array.isArray(info.models) ? info.models : [];
        /* the server's limit; without it the server alone refuses */
        this.promptMax = Number.isInteger(info.promptMaxBytes) ? info.promptMaxBytes : undefined;
        /* never a maxlength on the box: a paste past it was cut short
         * without a word and the rest sent (and charged); the limit is
         * said in words before sending (promptTooLong) */
        this.balance = balance;
        this.watcher = new Watcher(this.base, cap);
    }
}

class MediaTool extends Tool {
    constructor(cfg, info, balance) {
        super(cfg, info, balance, cfg.kind === 'video' ? 5000 : 3000);
        this.file = null;
        this.current = null;            /* {id, job, since} of the result shown */
        this.sending = false;           /* a POST /api/generate in flight */
        this.acceptedAt = 0;            /* when the last job was admitted */
        this.upload = this.options.includes('upload');
    }

    build(root) {
        const noun = NOUN[this.kind];
        this.picker = modelPicker(this.info, () => this.updateCost());
        const promptId = nextId('prompt');
        const hintId = nextId('hint');
        this.prompt = h('textarea', {
            id: promptId, name: 'prompt', class: 'nbm-input nbm-prompt', rows: 5, required: true, dir: 'auto',
            'aria-describedby': hintId,
            placeholder: this.kind === 'video'
                ? 'A red kite rising over a windy beach at sunset, slow camera pan'
                : 'A banana-shaped lighthouse on a rocky coast, golden hour, watercolor',
        });
        this.error = h('p', { class: 'nbm-error', role: 'alert', id: nextId('err') });
        this.button = h('button', { type: 'submit', class: 'nb-button nbm-generate', disabled: true }, 'Generate');
        this.lowHint = h('p', { class: 'nbm-hint nbm-low', hidden: true });

        const opts = [];
        if (this.options.includes('aspect')) opts.push(selectField('aspectRatio', 'Aspect ratio', ASPECTS, '1:1'));
        /* a list the server gave none of is no field: the server's default */
        const sizes = this.kind === 'video' ? videoSizeChoices(this.info) : IMAGE_SIZES;
        if (this.options.includes('size') && sizes.length) {
            opts.push(selectField('size', 'Size', sizes, this.kind === 'video' ? sizes[0][0] : '2048x2048'));
        }
        const durations = durationChoices(this.info);
        if (this.options.includes('duration') && durations.length) {
            opts.push(selectField('duration', 'Length', durations, durations[0][0]));
        }
        if (this.options.includes('seed')) {
            const id = nextId('seed');
            opts.push(h('label', { class: 'nbm-field', for: id }, h('span', { class: 'nbm-label', text: 'Seed (optional)' }),
                h('input', {
                    id, name: 'seed', type: 'number', class: 'nbm-input', min: 0, max: SEED_MAX, step: 1,
                    inputmode: 'numeric', placeholder: 'Random',
                })));
        }

        this.form = h('form', { class: 'nbm-panel nbm-form', novalidate: true, 'aria-label': `Make ${noun === 'image' ? 'an image' : 'a video'}` },
            this.picker.el,
            h('label', { class: 'nbm-field', for: promptId }, h('span', { class: 'nbm-label', text: 'Prompt' }), this.prompt),
            h('p', { class: 'nbm-hint', id: hintId, text: `Describe the ${noun} you want. Ctrl+Enter generates.` }),
            this.upload ? this.buildUpload() : null,
            opts.length ? h('div', { class: 'nbm-options' }, opts) : null,
            this.error, this.button, this.lowHint);
        this.form.addEventListener('submit', (e) => {
            e.preventDefault();
            this.generate();
        });
        this.form.addEventListener('input', (e) => this.clearInvalid(e.target));
        this.prompt.addEventListener('keydown', (e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                /* a held key repeats: each repeat would be a new charged job */
                if (!e.repeat) this.form.requestSubmit();
            }
        });

        /* tabindex: the focus goes here when the control that had it is redrawn away */
        this.result = h('section', { class: 'nbm-panel nbm-result', 'aria-live': 'polite', 'aria-label': 'Result', tabindex: '-1' });
        this.idle();
        this.history = new History(this);
        this.dialogs.fallback = this.history.heading;
        root.replaceChildren(h('div', { class: `nbm-tool nbm-kind-${this.kind}` }, this.form, this.result), this.history.el);
        this.balance.onChange(() => this.updateCost());
        this.updateCost();
        this.button.disabled = false;
        this.history.load().then((items) => this.resume(items));
    }

    /* After a reload (or from another tab) the newest job not ended is
     * followed in the result panel again, timed from its creation. */
    resume(items) {
        const g = (items || []).find((x) => !FINAL.has(x.status));
        if (!g || this.current) return;
        /* as after a press, its prompt is in the form (to try again) */
        if (!this.prompt.value.trim() && typeof g.prompt === 'string') this.prompt.value = g.prompt;
        const at = Date.parse(g.createdAt);
        this.follow(g, Number.isFinite(at) ? at - serverAhead : Date.now());
    }

    buildUpload() {
        const id = nextId('file');
        const hintId = nextId('drop');
        this.fileInput = h('input', {
            id, type: 'file', name: 'image', class: 'nbm-file', accept: 'image/png,image/jpeg,image/webp', 'aria-describedby': hintId,
        });
        this.fileInput.addEventListener('change', () => this.setFile(this.fileInput.files[0] || null));
        this.preview = h('div', { class: 'nbm-drop-preview', hidden: true });
        this.drop = h('div', { class: 'nbm-drop' },
            this.fileInput,
            h('label', { for: id, class: 'nbm-drop-label' },
                this.dropTitle = h('span', { class: 'nbm-drop-title', text: DROP_EMPTY }),
                h('span', { class: 'nbm-hint', id: hintId, text: 'Drop a PNG, JPEG or WebP here, or choose a file. Up to 10 MB.' })),
            this.preview);
        const has = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
        this.drop.addEventListener('dragover', (e) => {
            if (!has(e)) return;
            e.preventDefault();
            this.drop.classList.add('nbm-drop-over');
        });
        this.drop.addEventListener('dragleave', () => this.drop.classList.remove('nbm-drop-over'));
        this.drop.addEventListener('drop', (e) => {
            if (!has(e)) return;
            e.preventDefault();
            this.drop.classList.remove('nbm-drop-over');
            this.setFile(e.dataTransfer.files[0] || null);
        });
        /* A file dropped beside the zone must not replace the page. */
        for (const type of ['dragover', 'drop']) {
            window.addEventListener(type, (e) => {
                if (has(e) && !this.drop.contains(e.target)) e.preventDefault();
            });
        }
        return this.drop;
    }

    /* Checks a chosen or dropped file (size, real type) and previews it. */
    async setFile(file) {
        this.clearInvalid(this.fileInput);
        showError(this.error, null);
        this.file = null;
        this.preview.hidden = true;
        this.preview.replaceChildren();
        this.drop.classList.remove('nbm-drop-filled');
        this.dropTitle.textContent = DROP_EMPTY;
        if (!file) {
            this.fileInput.value = '';
            return;
        }
        let problem = null;
        if (file.size > UPLOAD_MAX) problem = 'That file is too large: images can be up to 10 MB.';
        else if (!(await sniffImage(file))) problem = 'That file is not a PNG, JPEG or WebP image.';
        if (problem) {
            this.fileInput.value = '';
            this.markInvalid(this.fileInput);
            showError(this.error, { text: problem });
            this.refusedFile = true;
            return;
        }
        this.refusedFile = false;
        this.file = file;
        if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
        this.previewUrl = URL.createObjectURL(file);
        this.preview.append(
            h('img', { src: this.previewUrl, alt: 'The image to edit' }),
            h('span', { class: 'nbm-drop-name', text: `${file.name || 'image'} · ${bytesText(file.size)}` }),
            h('button', { type: 'button', class: 'nbm-button-quiet', onclick: () => this.setFile(null) }, 'Remove image'));
        this.preview.hidden = false;
        this.drop.classList.add('nbm-drop-filled');
        this.dropTitle.textContent = DROP_FILLED;
    }

    updateCost() {
        showCost(this, 'Generate');
    }

    markInvalid(el) {
        if (!el) return;
        el.setAttribute('aria-invalid', 'true');
        el.setAttribute('aria-errormessage', this.error.id);
    }

    clearInvalid(el) {
        if (el && el.getAttribute && el.getAttribute('aria-invalid')) {
            el.removeAttribute('aria-invalid');
            el.removeAttribute('aria-errormessage');
        }
    }

    fail(info) {
        showError(this.error, info);
        const el = info.field && (info.field === 'image' ? this.fileInput : this.form.elements[info.field]);
        if (el) {
            this.markInvalid(el);
            el.focus();
        }
    }

    /* What the form asks for: {fields} or an explanation of what is wrong. */
    collect() {
        const prompt = this.prompt.value.trim();
        if (!prompt) return { field: 'prompt', text: `Write a prompt first: describe the ${NOUN[this.kind]} you want.` };
        const long = promptTooLong(prompt, 'prompt', this.promptMax);
        if (long) return long;
        const fields = { prompt };
        const m = this.picker.model;
        if (m && this.models.length > 1) fields.model = m.id;
        const els = this.form.elements;
        if (els.aspectRatio) fields.aspectRatio = els.aspectRatio.value;
        if (els.size) fields.size = els.size.value;
        if (els.duration) fields.duration = Number(els.duration.value);
        if (els.seed && els.seed.value.trim() !== '') {
            const seed = Number(els.seed.value);
            if (!Number.isInteger(seed) || seed < 0 || seed > SEED_MAX) return { field: 'seed', text: FIELD_SAYS.seed };
            fields.seed = seed;
        }
        return { fields };
    }

    /* POST /api/generate (multipart with the image, JSON without), then
     * follow the job. */
    async generate() {
        /* requestSubmit() ignores the disabled button: one press, one job;
         * and a press within a second of an admitted job is the second
         * half of a double press, however fast the first was answered */
        if (this.sending || Date.now() - this.acceptedAt < 1000) return undefined;
        showError(this.error, null);
        for (const el of this.form.querySelectorAll('[aria-invalid]')) this.clearInvalid(el);
        const { fields, ...problem } = this.collect();
        if (!fields) return this.fail(problem);
        /* the image chosen last was refused: this press would make a new
         * image from the prompt alone, charged, where an edit was meant
         * (the refusal's words were gone at the press); the next goes on */
        if (this.refusedFile) {
            this.refusedFile = false;
            return this.fail({ field: 'image', text: REFUSED_FILE });
        }
        let opts;
        if (this.file) {
            const form = new FormData();
            for (const [k, v] of Object.entries(fields)) form.append(k, String(v));
            form.append('image', this.file, this.file.name || 'image');
            opts = { method: 'POST', form };
        } else {
            opts = { method: 'POST', json: fields };
        }
        this.sending = true;
        const release = hold(this.button);
        const label = this.button.textContent;
        this.button.textContent = 'Sending…';
        /* one key per press: a second try is the same request, charged
         * once (docs/MODULES.md, Idempotency keys) */
        opts.headers = { 'Idempotency-Key': newKey() };
        try {
            let job;
            try {
                job = await callJSON(`${this.base}/api/generate`, opts);
            } catch (e) {
                if (!UNSURE.has(e.status)) throw e;
                await new Promise((resolve) => { setTimeout(resolve, 1000); });
                job = await callJSON(`${this.base}/api/generate`, opts);
            }
            this.acceptedAt = Date.now();
            this.follow({ ...job, prompt: fields.prompt, params: fields, createdAt: new Date().toISOString() }, Date.now());
            this.balance.refresh();
        } catch (e) {
            this.fail(explain(e));
            if (e.status === 402) this.balance.refresh();
        } finally {
            this.sending = false;
            release();
            this.button.textContent = label;
            this.updateCost();
        }
        return undefined;
    }

    /* Shows job in the result panel and follows it until it ends; a job
     * that ends while another is shown still lands in history. */
    follow(job, since) {
        const state = { id: job.id, job, since, note: null };
        this.current = state;
        this.watcher.watch(job.id, (g, err) => {
            if (g && g.status !== 'gone') state.job = { ...state.job, ...g };
            if (g && FINAL.has(g.status)) {
                this.balance.refresh();
                this.history.upsert(state.job);
                /* a press after its result is a new one, however soon */
                if (this.current === state) this.acceptedAt = 0;
            }
            if (this.current !== state) return;
            if (g && g.status === 'gone') {
                this.idle();
                return;
            }
            /* an ended session is no lost connection: it needs a sign-in
             * (the polls go on, and find the job again after one) */
            state.note = !err ? null
                : err.status === 401 ? explain(err) : { text: 'Connection lost; still checking…' };
            this.showJob(state);
        });
        this.showJob(state);
    }

    idle() {
        this.current = null;
        delete this.result.dataset.id;
        this.result.removeAttribute('aria-busy');
        this.result.replaceChildren(h('div', { class: 'nbm-placeholder' },
            h('span', { class: 'nbm-placeholder-mark', 'aria-hidden': 'true' }),
            h('p', { text: `Your ${NOUN[this.kind]} will appear here.` }),
            h('p', {
                class: 'nbm-muted',
                text: this.kind === 'video'
                    ? 'Videos take a few minutes. You can leave this page: the video waits in your history.'
                    : 'Images usually take a few seconds.',
            })));
    }

    /* Draws the result panel for the job; only when something changed, so
     * its live region speaks once per step. */
    showJob(state) {
        const g = state.job;
        const noun = NOUN[this.kind];
        const shown = `${g.status}|${state.note ? state.note.text : ''}|${state.late ? 1 : 0}`;
        if (state.shown === shown && this.result.dataset.id === String(g.id)) return;
        state.shown = shown;
        this.result.dataset.id = g.id;
        const head = h('div', { class: 'nbm-result-head' }, statusBadge(g));
        const body = [];
        this.result.setAttribute('aria-busy', FINAL.has(g.status) ? 'false' : 'true');
        if (!FINAL.has(g.status)) {
            head.append(h('span', { class: 'nbm-progress-text' },
                g.status === 'queued' ? 'Waiting for a free slot' : `Making your ${noun}`, ' · ', clockEl(state.since)));
            body.push(h('div', { class: 'nbm-progress', role: 'progressbar', 'aria-label': `Making your ${noun}` }));
            body.push(this.skeleton(g));
            if (this.kind === 'video') body.push(h('p', { class: 'nbm-muted', text: 'Videos take a few minutes. You can leave this page: the video waits in your history.' }));
            if (g.status === 'queued' && !state.late) {
                const err = h('p', { class: 'nbm-error', role: 'alert' });
                body.push(h('div', { class: 'nbm-actions' }, h('button', {
                    type: 'button', class: 'nbm-button-quiet',
                    onclick: async (e) => {
                        const button = e.currentTarget;
                        const release = hold(button);
                        try {
                            const c = await this.cancel(g.id);
                            state.job = { ...state.job, ...c };
                            this.showJob(state);
                            this.history.upsert(state.job);
                        } catch (x) {
                            if (x.code !== 'not_queued') {
                                showError(err, explain(x));
                                release();
                                return;
                            }
                            /* it started meanwhile: the next poll redraws
                             * this body, so the words live in state */
                            state.late = explain(x);
                            this.showJob(state);
                        }
                        /* the button is gone: the panel that says what happened */
                        release(button.isConnected ? button : this.result);
                    },
                }, 'Cancel')), err);
            }
            if (state.late) body.push(h('p', { class: 'nbm-error', role: 'alert' }, state.late.text));
            if (state.note) {
                /* a region of its own: the panel's is busy until the job ends,
                 * and an ended session must be heard now */
                const note = h('p', { class: state.note.link ? 'nbm-error' : 'nbm-muted', role: state.note.link ? 'alert' : 'status' });
                showError(note, state.note);
                body.push(note);
            }
        } else if (g.status === 'succeeded') {
            const outputs = (g.outputs || []).filter((o) => safeUrl(o.url));
            body.push(h('div', { class: outputs.length > 1 ? 'nbm-figures nbm-figures-many' : 'nbm-figures' },
                outputs.map((o) => mediaFigure(o, g))));
            body.push(h('p', { class: 'nbm-result-prompt', dir: 'auto', text: g.prompt || '' }));
            const actions = h('div', { class: 'nbm-actions' });
            outputs.forEach((o, n) => actions.append(this.history.downloadLink(g, o, n, outputs.length > 1 ? `Download ${n + 1}` : 'Download', this.error)));
            actions.append(h('button', { type: 'button', class: 'nbm-button-quiet', onclick: () => this.history.open(g) }, 'Details'));
            if (this.upload && outputs[0] && !isVideo(outputs[0])) {
                actions.append(h('button', { type: 'button', class: 'nbm-button-quiet', onclick: () => this.editFrom(g, outputs[0]) }, 'Edit this image'));
            }
            body.push(actions);
            const took = Date.parse(g.finishedAt) - Date.parse(g.createdAt);
            head.append(h('span', { class: 'nbm-muted' },
                `Done in ${clock(took >= 0 ? took : Date.now() - state.since)} · ${creditsText(g.cost)}`,
                g.offline ? ' · offline placeholder' : ''));
        } else if (g.status === 'failed') {
            body.push(h('p', { class: 'nbm-error nbm-result-error' }, generationError(g.error).text));
            body.push(h('p', { class: 'nbm-muted', text: 'Your prompt is still in the form: change it or try again.' }));
        } else {
            body.push(h('p', { text: `Canceled. ${creditsText(g.cost)} went back to your balance.` }));
        }
        /* focus on a control of the panel would fall to the body with it */
        const had = this.result !== document.activeElement && this.result.contains(document.activeElement);
        this.result.replaceChildren(head, ...body);
        if (had) this.result.focus();
    }

    /* A shimmering frame of the shape asked for, where the result will be. */
    skeleton(g) {
        const p = g.params || {};
        const m = /^(\d+)[x*:](\d+)$/.exec(p.size || p.aspectRatio || '');
        const el = h('div', { class: 'nbm-skeleton', 'aria-hidden': 'true' });
        if (m) el.style.aspectRatio = `${m[1]} / ${m[2]}`;    /* CSSOM: allowed under a CSP */
        return el;
    }

    /* POST …/cancel; resolves with {id,status}. */
    cancel(id) {
        return callJSON(`${this.base}/api/generations/${encodeURIComponent(id)}/cancel`, { method: 'POST', json: {} })
            .then((c) => {
                this.balance.refresh();
                return c;
            });
    }

    /* A job canceled from its details: its entry in history and, when
     * it is the one shown, the result panel say so without waiting for
     * the next poll. */
    canceled(g) {
        this.history.upsert(g);
        const state = this.current;
        if (state && state.id === g.id) {
            state.job = { ...state.job, ...g };
            this.showJob(state);
        }
    }

    /* A deleted generation leaves the result panel too. */
    forget(id) {
        if (this.current && this.current.id === id) this.idle();
    }

    /* Puts an output back in the upload slot to edit it further. */
    async editFrom(item, output) {
        try {
            const res = await call(safeUrl(output.url), { accept: '*/*' });
            const blob = await res.blob();
            await this.setFile(new File([blob], `${this.name}-${item.id}.${extOf(output)}`, { type: blob.type }));
            this.prompt.value = '';
            this.prompt.focus();
            this.form.scrollIntoView({ block: 'start', behavior: 'smooth' });
        } catch (e) {
            showError(this.error, explain(e));
        }
    }
}

/* ---- text --------------------------------------------------------------- */

// A phone's keyboard has no Shift+Enter, so there Enter starts a new line
// and the Send button sends (until 2026-12-06 Enter sent, and a message
// of two lines could not be written on a phone).
const touchTyping = () => window.matchMedia('(hover: none) and (pointer: coarse)').matches;

class TextTool extends Tool {
    constructor(cfg, info, balance) {
        super(cfg, info, balance, 3000);
        this.conversationId = null;
        this.controller = null;
    }

    build(root) {
        this.picker = modelPicker(this.info, () => this.updateCost());
        const id = nextId('prompt');
        const hintId = nextId('hint');
        const touch = touchTyping();
        this.prompt = h('textarea', {
            id, name: 'prompt', class: 'nbm-input nbm-prompt', rows: 3, dir: 'auto', 'aria-describedby': hintId,
            placeholder: `Ask ${this.title} anything…`, enterkeyhint: touch ? 'enter' : 'send',
        });
        this.error = h('p', { class: 'nbm-error', role: 'alert', id: nextId('err') });
        this.button = h('button', { type: 'submit', class: 'nb-button nbm-generate', disabled: true }, 'Send');
        this.stop = h('button', { type: 'button', class: 'nbm-button-quiet nbm-stop', hidden: true, onclick: () => this.controller?.abort() }, 'Stop');
        this.newChat = h('button', { type: 'button', class: 'nbm-button-quiet', hidden: true, onclick: () => this.reset() }, 'New conversation');
        this.lowHint = h('p', { class: 'nbm-hint nbm-low', hidden: true });
        this.live = h('p', { class: 'nbm-visually-hidden', 'aria-live': 'polite' });
        this.log = h('div', { class: 'nbm-messages', role: 'log', 'aria-label': 'Conversation', tabindex: '0' });
        this.form = h('form', { class: 'nbm-composer', novalidate: true, 'aria-label': 'Send a message' },
            h('label', { class: 'nbm-label', for: id, text: 'Your message' }),
            this.prompt,
            h('div', { class: 'nbm-composer-foot' },
                h('p', { class: 'nbm-hint', id: hintId, text: touch ? 'Send sends · Enter starts a new line' : 'Enter sends · Shift+Enter starts a new line' }),
                h('div', { class: 'nbm-actions' }, this.stop, this.button)),
            this.error, this.lowHint);
        this.form.addEventListener('submit', (e) => {
            e.preventDefault();
            this.send();
        });
        this.prompt.addEventListener('input', () => {
            this.prompt.removeAttribute('aria-invalid');
            this.prompt.removeAttribute('aria-errormessage');
        });
        this.prompt.addEventListener('keydown', (e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !touchTyping()) {
                e.preventDefault();
                if (!e.repeat) this.form.requestSubmit();
            }
        });
        this.history = new History(this);
        this.dialogs.fallback = this.history.heading;
        this.reset();
        root.replaceChildren(
            h('div', { class: 'nbm-panel nbm-chat' },
                h('div', { class: 'nbm-chat-bar' }, this.picker.el, this.newChat),
                this.log, this.form, this.live),
            this.history.el);
        this.balance.onChange(() => this.updateCost());
        this.updateCost();
        this.button.disabled = false;
        this.history.load();
    }

    updateCost() {
        showCost(this, 'Send');
    }

    /* Marks the message box as what the error is about, and focuses it. */
    invalid() {
        this.prompt.setAttribute('aria-invalid', 'true');
        this.prompt.setAttribute('aria-errormessage', this.error.id);
        this.prompt.focus();
    }

    /* Starts a new conversation. */
    reset() {
        if (this.controller) return;
        this.conversationId = null;
        this.newChat.hidden = true;
        this.log.replaceChildren(h('div', { class: 'nbm-placeholder' },
            h('span', { class: 'nbm-placeholder-mark', 'aria-hidden': 'true' }),
            h('p', { text: `Ask ${this.title} a question, or ask it to write or rewrite something.` }),
            h('p', { class: 'nbm-muted', text: 'The answer appears as it is written. Each message costs the price on the Send button.' })));
        showError(this.error, null);
    }

    message(role, text) {
        const body = h('div', { class: 'nbm-msg-text', dir: 'auto' });
        if (text) body.textContent = text;
        const el = h('article', { class: `nbm-msg nbm-msg-${role}` },
            h('h3', { class: 'nbm-msg-who', text: role === 'user' ? 'You' : this.title }), body);
        this.log.querySelector('.nbm-placeholder')?.remove();
        this.log.append(el);
        this.log.scrollTop = this.log.scrollHeight;
        return { el, body };
    }

    continueFrom(item) {
        this.reset();
        this.conversationId = item.conversationId;
        this.message('user', item.prompt || '');
        const a = this.message('assistant', item.text || '');
        a.el.append(h('p', { class: 'nbm-msg-meta', text: 'From your history: your next message continues this conversation.' }));
        this.newChat.hidden = false;
        this.prompt.focus();
    }

    forget() {}

    /* POST /api/generate with "stream": true and read the SSE answer. */
    async send() {
        if (this.controller) return;
        const prompt = this.prompt.value.trim();
        showError(this.error, null);
        const problem = prompt ? promptTooLong(prompt, 'message', this.promptMax) : { text: 'Write a message first.' };
        if (problem) {
            this.invalid();
            return showError(this.error, problem);
        }
        const body = { prompt, stream: true };
        const m = this.picker.model;
        if (m && this.models.length > 1) body.model = m.id;
        if (this.conversationId) body.conversationId = this.conversationId;

        /* the ids history shows now: a stopped answer's row is a new one */
        const known = new Set([...this.history.list.children].map((li) => li.dataset.id));
        const asked = this.message('user', prompt);
        const answer = this.message('assistant', '');
        answer.el.setAttribute('aria-busy', 'true');
        /* and the log too: Chromium hears a live region's changes unless
         * its own root is busy, so each delta was spoken; this.live says
         * when the answer is complete */
        this.log.setAttribute('aria-busy', 'true');
        const text = document.createTextNode('');
        answer.body.append(text);
        const meta = h('p', { class: 'nbm-msg-meta' }, 'Writing… ', clockEl(Date.now()));
        answer.el.append(meta);
        this.prompt.value = '';
        this.controller = new AbortController();
        /* Send pressed from the keyboard: the place to be while the answer
         * comes is the message box (Stop is next), not the page's body,
         * where a disabled button would drop the focus */
        if (document.activeElement === this.button) this.prompt.focus();
        this.button.disabled = true;
        this.stop.hidden = false;
        this.newChat.hidden = true;
        this.live.textContent = `${this.title} is writing.`;
        /* the log follows the answer while the reader is at its end */
        const log = this.log;
        const near = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;

        /* outcome: {done} | {stopped} | {refused: explanation} | {info: explanation} */
        let outcome = null;
        let res = null;
        try {
            res = await call(`${this.base}/api/generate`, {
                method: 'POST', json: body, accept: 'text/event-stream', signal: this.controller.signal,
            });
            this.balance.refresh();         /* debited when accepted */
            if (!/text\/event-stream/.test(res.headers.get('Content-Type') || '')) {
                const whole = await res.json();    /* a server that did not stream */
                text.appendData(typeof whole.text === 'string' ? whole.text : '');
                outcome = { done: whole };
            } else {
                for await (const ev of sseEvents(res)) {
                    const d = parseData(ev);
                    if (ev.event === 'delta' && typeof d.text === 'string') {
                        const stick = near();
                        text.appendData(d.text);
                        if (stick) log.scrollTop = log.scrollHeight;
                    } else if (ev.event === 'done') {
                        outcome = { done: d };
                    } else if (ev.event === 'error') {
                        outcome = { info: explain({ code: typeof d.error === 'string' ? d.error : '' }) };
                    }
                }
            }
        } catch (e) {
            if (e && e.name === 'AbortError') outcome = { stopped: true };
            else if (e instanceof ApiError) outcome = { refused: explain(e) };
        }
        if (!outcome) {
            outcome = { lost: true };
        }
        this.finish({ asked, answer, text, meta, prompt, known, answered: !!res }, outcome);
        return undefined;
    }

    finish(turn, outcome) {
        const { asked, answer, text, meta, prompt } = turn;
        this.controller = null;
        this.button.disabled = false;
        this.stop.hidden = true;
        answer.el.setAttribute('aria-busy', 'false');
        this.log.setAttribute('aria-busy', 'false');
        meta.replaceChildren();
        if (outcome.done) {
            const d = outcome.done;
            if (d.conversationId) this.conversationId = d.conversationId;
            const u = d.usage || {};
            const tokens = u.total_tokens ?? u.totalTokens ?? u.completion_tokens;
            meta.append([tokens != null ? plural(tokens, 'token', 'tokens') : null, d.cost != null ? creditsText(d.cost) : null]
                .filter(Boolean).join(' · '));
            this.live.textContent = 'The answer is complete.';
            if (d.id) this.recordHistory(d, prompt, text.data);
        } else if (outcome.stopped) {
            meta.append('Stopped. Checking whether it was charged…');
            answer.el.classList.add('nbm-msg-stopped');
            this.live.textContent = '';     /* the meta line, in the log, says it */
            this.settleStopped(turn);
        } else if (outcome.lost) {
            /* the server's side may have gone (its process died: the row
             * ends "interrupted" and refunded once its lease runs out) or
             * the reader's: the row says which, and what was charged */
            answer.el.classList.add('nbm-msg-failed');
            answer.el.append(h('p', { class: 'nbm-error' }, 'The connection was lost before the answer was finished.'));
            meta.append('Checking whether it was charged…');
            answer.el.append(meta);
            this.live.textContent = '';     /* the log says it */
            this.settleLost(turn);
        } else if (outcome.refused) {
            /* refused before a word was written: the message goes back in the box */
            asked.el.remove();
            answer.el.remove();
            if (!this.log.querySelector('.nbm-msg')) this.reset();
            if (outcome.refused.field === 'conversationId') this.conversationId = null;
            this.prompt.value = prompt;
            showError(this.error, outcome.refused);
            if (outcome.refused.field === 'prompt') this.invalid();
            this.live.textContent = '';     /* the alert says it */
        } else {
            meta.remove();
            answer.el.classList.add('nbm-msg-failed');
            answer.el.append(h('p', { class: 'nbm-error' }, outcome.info.text));
            this.live.textContent = '';     /* the log says it */
            /* its failed row goes into history as an image's does (it
             * showed only after a reload) */
            if (turn.answered) this.findTurn(turn, 3).then((g) => g && this.history.upsert(g));
        }
        /* failed before a word (blocked, the provider down): the message
         * goes back in the box to send again or reword, as the words
         * ask; an image form keeps its prompt the same way */
        if ((outcome.info || outcome.lost) && !text.data && !this.prompt.value) this.prompt.value = prompt;
        if (this.log.querySelector('.nbm-msg')) this.newChat.hidden = false;
        this.log.scrollTop = this.log.scrollHeight;
        this.balance.refresh();
        this.prompt.focus();
    }

    /* After Stop: the server charges when the provider had already
     * written text, even text the page never showed (docs/MODULES.md,
     * Refund), and ends the generation once it sees the reader gone (its
     * next write or heartbeat, within 5 s).  The stream never named the
     * generation, so it is found in history (the oldest new row with
     * this prompt), followed until it ends, shown there and said in the
     * answer's meta line: charged or not, as the server recorded it. */
    settleStopped(turn) {
        return this.settle(turn, {
            unknown: turn.answered
                ? 'Stopped. Whether it was charged could not be checked: your history and balance show it.'
                : 'Stopped before the server answered. If it had already started, any charge shows in your history and balance.',
            charged: (g) => `Stopped. ${creditsText(g.cost)} charged: the provider had already started the answer.`,
            free: () => 'Stopped before any answer; nothing was charged.',
        });
    }

    /* After a connection lost mid-answer: the same search, in its words. */
    settleLost(turn) {
        return this.settle(turn, {
            unknown: 'Whether it was charged could not be checked: your history and balance show it.',
            charged: (g) => `${creditsText(g.cost)} charged: the provider had already written the answer, which your history keeps.`,
            free: (g) => generationError(g.error).text,
        });
    }

    /* The turn's row, which the stream never named: the oldest new row
     * in history with its prompt, looked for once a second. */
    async findTurn({ prompt, known }, tries) {
        for (let i = 0; i < tries; i++) {
            await new Promise((resolve) => { setTimeout(resolve, 1000); });
            try {
                const page = await callJSON(`${this.base}/api/history?limit=5`);
                const items = Array.isArray(page.items) ? page.items : [];
                const item = items.filter((g) => !known.has(String(g.id)) && g.prompt === prompt).at(-1);
                if (item) return item;
            } catch {
                /* tried again below */
            }
        }
        return null;
    }

    /* Finds the turn's row in history and follows it until it ends,
     * then says words.charged(g) or words.free(g) in the meta line
     * (words.unknown when it is not found). */
    async settle(turn, words) {
        const { meta, text } = turn;
        /* the meta line is in the log, which says it: once */
        const say = (w) => {
            meta.textContent = w;
        };
        const item = await this.findTurn(turn, 10);
        if (!item) {
            say(words.unknown);
            this.balance.refresh();
            return;
        }
        const ended = (g) => {
            this.history.upsert(g);
            this.balance.refresh();
            if (g.status === 'succeeded') {
                /* what was paid for, though the page had not shown it */
                if (!text.data && typeof g.text === 'string') text.appendData(g.text);
                say(words.charged(g));
            } else {
                say(words.free(g));
            }
        };
        if (FINAL.has(item.status)) {
            ended(item);
            return;
        }
        this.history.upsert(item);
        const stop = this.watcher.watch(item.id, (g) => {
            if (!g || !FINAL.has(g.status)) return;
            stop();
            ended(g);
        });
    }

    /* The finished answer goes to the top of history (as the server has
     * it, or as we saw it when that fails). */
    async recordHistory(done, prompt, text) {
        let item;
        try {
            item = await callJSON(`${this.base}/api/generations/${encodeURIComponent(done.id)}`);
        } catch {
            item = { id: done.id, status: 'succeeded', prompt, text, cost: done.cost, createdAt: new Date().toISOString() };
        }
        if (!item.conversationId && done.conversationId) item.conversationId = done.conversationId;
        this.history.upsert(item);
    }
}

/* ---- start ------------------------------------------------------------- */

async function start(root) {
    const seg = location.pathname.split('/')[1] || '';
    const base = (root.dataset.base || (seg ? `/${seg}` : '')).replace(/\/+$/, '');
    const balance = new Balance();
    balance.refresh();
    root.classList.add('nbm-root');
    root.replaceChildren(h('p', { class: 'nbm-muted', role: 'status', text: 'Loading…' }));
    let info;
    try {
        info = await callJSON(`${base}/api/models`);
    } catch (e) {
        const err = h('p', { class: 'nbm-error', role: 'alert' });
        showError(err, e.status === 0 || e.status === 401 ? explain(e)
            : { text: 'This module is not answering right now, so the tool cannot start. Try again shortly.' });
        root.replaceChildren(err, h('button', { type: 'button', class: 'nb-button', onclick: () => start(root) }, 'Try again'));
        return;
    }
    const kind = root.dataset.kind || info.kind || 'text';
    const cfg = {
        base,
        kind,
        name: info.module || base.slice(1) || 'nano',
        title: (info.title || document.title || '').replace(/\s+[—-].*$/, ''),
        options: (root.dataset.options ?? DEFAULT_OPTIONS[kind] ?? '').split(/\s+/).filter(Boolean),
    };
    const tool = kind === 'text' ? new TextTool(cfg, info, balance) : new MediaTool(cfg, info, balance);
    tool.dialogs = new Dialogs(document.body);
    tool.build(root);
}

const root = typeof document !== 'undefined' ? document.querySelector('[data-nb-tool]') : null;
if (root) start(root);
