#!/usr/bin/env node
// A fake of the parts of Stripe the platform uses (tests/fakes/README.md):
// the REST API's POST /v1/checkout/sessions (form bodies parsed as Stripe
// parses them, Bearer or Basic auth with Stripe's 401, Idempotency-Key
// replays and Stripe's idempotency_error, Stripe's error shapes), a hosted
// checkout page with a "Pay" button, and webhook deliveries in Stripe's
// exact format: an Event object signed with the endpoint secret
// (Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")), pretty-printed
// JSON as Stripe sends it, retried when the endpoint does not answer 2xx.
// Test controls under /_fake/ pay sessions (card or delayed payment),
// resend and reorder events, and refund charges.
//
// Node 20, no npm packages.  Prints {"port":N} on stdout when listening.
import http from 'node:http';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const API_VERSION = '2024-06-20';

function parseOptions(argv, env) {
    const o = {
        port: Number(env.FAKE_STRIPE_PORT ?? 0),
        host: env.FAKE_STRIPE_HOST || '127.0.0.1',
        key: env.FAKE_STRIPE_KEY || 'sk_test_fake',
        webhookSecret: env.FAKE_STRIPE_WEBHOOK_SECRET || 'whsec_fake',
        webhookUrl: env.FAKE_STRIPE_WEBHOOK_URL || '',
        retries: Number(env.FAKE_STRIPE_RETRIES ?? 2),
        retryMs: Number(env.FAKE_STRIPE_RETRY_MS ?? 1000),
    };
    const names = {
        '--port': 'port', '--host': 'host', '--key': 'key', '--webhook-secret': 'webhookSecret',
        '--webhook-url': 'webhookUrl', '--retries': 'retries', '--retry-ms': 'retryMs',
    };
    for (let i = 2; i < argv.length; i++) {
        const [flag, inline] = argv[i].split(/=(.*)/s);
        const name = names[flag];
        if (!name) throw new Error(`unknown option ${argv[i]} (options: ${Object.keys(names).join(' ')})`);
        const value = inline ?? argv[++i];
        if (value === undefined) throw new Error(`${flag} needs a value`);
        o[name] = typeof o[name] === 'number' ? Number(value) : value;
    }
    return o;
}

// ---- Stripe's form encoding ---------------------------------------------------

// Parses an application/x-www-form-urlencoded body the way Stripe reads
// it: "a[b][0][c]=v" is {a: {b: [{c: v}]}}; every leaf is a string.
// Returns {params} or {error: param name} for a malformed key.
export function parseStripeForm(text) {
    const params = {};
    for (const [key, value] of new URLSearchParams(text)) {
        const m = key.match(/^([^[\]]+)((?:\[[^[\]]*\])*)$/);
        if (!m) return { error: key };
        const path = [m[1], ...[...m[2].matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1])];
        let node = params;
        for (let i = 0; i < path.length; i++) {
            const k = path[i];
            const last = i === path.length - 1;
            const nextIsIndex = !last && /^\d+$/.test(path[i + 1]);
            if (k === '') return { error: key };
            if (last) {
                node[k] = value;
            } else {
                if (node[k] === undefined) node[k] = nextIsIndex ? [] : {};
                if (typeof node[k] !== 'object') return { error: key };
                node = node[k];
            }
        }
    }
    return { params };
}

// ---- helpers --------------------------------------------------------------------

const rid = (prefix, n = 24) => {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    const bytes = crypto.randomBytes(n);
    return prefix + [...bytes].map((b) => chars[b % chars.length]).join('');
};

const now = () => Math.floor(Date.now() / 1000);

function stripeError(status, type, message, extra = {}) {
    return { status, body: { error: { ...extra, message, type } } };
}

function paramError(code, param, message) {
    return stripeError(400, 'invalid_request_error', message, {
        code, doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`, param,
        request_log_url: `https://dashboard.stripe.com/test/logs/${rid('req_', 14)}`,
    });
}

const missing = (param) => paramError('parameter_missing', param, `Missing required param: ${param}.`);

function validUrl(s) {
    try {
        const u = new URL(s);
        return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
        return false;
    }
}

// The Stripe-Signature header for payload at time t (and a v0, as test
// mode sends one, made with another secret).
export function signatureHeader(secret, payload, t = now()) {
    const v1 = crypto.createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex');
    const v0 = crypto.createHmac('sha256', `${secret}-v0`).update(`${t}.${payload}`).digest('hex');
    return `t=${t},v1=${v1},v0=${v0}`;
}

const KNOWN = new Set(['mode', 'line_items', 'success_url', 'cancel_url', 'client_reference_id',
    'metadata', 'customer_email', 'payment_method_types', 'expires_at', 'locale', 'ui_mode',
    'payment_intent_data', 'allow_promotion_codes', 'customer']);

// Checks a create request as Stripe does; returns an error answer or null.
function validateCreate(p) {
    for (const k of Object.keys(p)) {
        if (!KNOWN.has(k)) return paramError('parameter_unknown', k, `Received unknown parameter: ${k}`);
    }
    if (p.mode === undefined) return missing('mode');
    if (!['payment', 'subscription', 'setup'].includes(p.mode)) {
        return paramError('parameter_invalid_string', 'mode', `Invalid mode: must be one of payment, setup, or subscription`);
    }
    if (p.success_url === undefined && (p.ui_mode ?? 'hosted') === 'hosted') return missing('success_url');
    for (const k of ['success_url', 'cancel_url']) {
        if (p[k] !== undefined && !validUrl(p[k])) return paramError('url_invalid', k, 'Not a valid URL');
    }
    if (p.mode === 'payment') {
        if (!Array.isArray(p.line_items) || p.line_items.length === 0) return missing('line_items');
        for (let i = 0; i < p.line_items.length; i++) {
            const li = p.line_items[i];
            const at = `line_items[${i}]`;
            if (!li || typeof li !== 'object') return missing(at);
            if (li.price === undefined && li.price_data === undefined) return missing(`${at}[price]`);
            if (li.price_data !== undefined) {
                const pd = li.price_data;
                if (pd.currency === undefined) return missing(`${at}[price_data][currency]`);
                if (!/^[a-z]{3}$/.test(pd.currency)) {
                    return paramError('parameter_invalid_string', `${at}[price_data][currency]`,
                        `Invalid currency: ${pd.currency}. Stripe currently supports these currencies: usd, eur, gbp, jpy, …`);
                }
                if (pd.unit_amount === undefined && pd.unit_amount_decimal === undefined) {
                    return missing(`${at}[price_data][unit_amount]`);
                }
                if (pd.unit_amount !== undefined && !/^\d+$/.test(pd.unit_amount)) {
                    return paramError('parameter_invalid_integer', `${at}[price_data][unit_amount]`,
                        'Invalid integer: ' + pd.unit_amount);
                }
                if (Number(pd.unit_amount) > 99999999) {
                    return paramError('amount_too_large', `${at}[price_data][unit_amount]`,
                        'Amount must be no more than 99999999');
                }
                if (pd.product === undefined && (pd.product_data === undefined || pd.product_data.name === undefined)) {
                    return missing(`${at}[price_data][product_data][name]`);
                }
            }
            if (li.quantity === undefined) return missing(`${at}[quantity]`);
            if (!/^\d+$/.test(li.quantity) || Number(li.quantity) < 1) {
                return paramError('parameter_invalid_integer', `${at}[quantity]`, 'Invalid integer: ' + li.quantity);
            }
        }
    }
    if (p.client_reference_id !== undefined && p.client_reference_id.length > 200) {
        return paramError('parameter_invalid_string', 'client_reference_id',
            'client_reference_id must be at most 200 characters');
    }
    if (p.metadata !== undefined) {
        if (typeof p.metadata !== 'object' || Array.isArray(p.metadata)) return paramError('parameter_invalid_string', 'metadata', 'Invalid hash');
        const keys = Object.keys(p.metadata);
        if (keys.length > 50) return paramError('parameter_invalid_string', 'metadata', 'You can only add up to 50 keys to metadata');
        for (const k of keys) {
            if (k.length > 40) return paramError('parameter_invalid_string', `metadata[${k}]`, 'Metadata keys can have up to 40 characters');
            if (typeof p.metadata[k] !== 'string' || p.metadata[k].length > 500) {
                return paramError('parameter_invalid_string', `metadata[${k}]`, 'Metadata values can have up to 500 characters');
            }
        }
    }
    return null;
}

// ---- the server -------------------------------------------------------------------

export function createFakeStripe(opts) {
    const o = { ...opts };
    const sessions = new Map();          // id -> session object
    const charges = new Map();           // payment intent -> charge object
    const idem = new Map();              // key -> {fingerprint, status, body}
    const events = new Map();            // id -> {event, deliveries}
    let failures = [];                   // [{mode, times}]
    let counts = {};
    let last = {};
    let base = '';

    const count = (k) => { counts[k] = (counts[k] || 0) + 1; };

    function authOk(req) {
        const h = req.headers.authorization || '';
        let key = null;
        if (/^Bearer /i.test(h)) key = h.slice(7).trim();
        else if (/^Basic /i.test(h)) key = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8').split(':')[0];
        if (!key) {
            return stripeError(401, 'invalid_request_error', "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.");
        }
        if (key !== o.key) {
            return stripeError(401, 'invalid_request_error', `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(4)}${key.slice(-4)}`);
        }
        return null;
    }

    function nextFailure() {
        const f = failures[0];
        if (!f) return null;
        if (--f.times <= 0) failures.shift();
        return f.mode;
    }

    function sessionObject(p) {
        const id = rid('cs_test_a1', 54);
        const li = p.line_items?.[0] || {};
        const unit = Number(li.price_data?.unit_amount ?? 0);
        const qty = Number(li.quantity ?? 1);
        const s = {
            id, object: 'checkout.session', after_expiration: null, allow_promotion_codes: null,
            amount_subtotal: unit * qty, amount_total: unit * qty,
            automatic_tax: { enabled: false, liability: null, status: null },
            billing_address_collection: null, cancel_url: p.cancel_url ?? null,
            client_reference_id: p.client_reference_id ?? null, client_secret: null, consent: null,
            created: now(), currency: li.price_data?.currency ?? null, customer: null,
            customer_creation: 'if_required', customer_details: null, customer_email: p.customer_email ?? null,
            expires_at: now() + 24 * 3600, invoice: null, livemode: false, locale: null,
            metadata: p.metadata ?? {}, mode: p.mode, payment_intent: null, payment_link: null,
            payment_method_types: ['card'], payment_status: 'unpaid', status: 'open',
            success_url: p.success_url ?? null, ui_mode: 'hosted', url: `${base}/c/pay/${id}`,
        };
        // what the page shows; not part of Stripe's object
        Object.defineProperty(s, '_product', { value: li.price_data?.product_data?.name ?? 'Item', enumerable: false });
        return s;
    }

    // ---- events and their delivery ----------------------------------------------

    function makeEvent(type, object) {
        const event = {
            id: rid('evt_1', 23), object: 'event', api_version: API_VERSION, created: now(),
            data: { object: structuredClone(object) }, livemode: false, pending_webhooks: 1,
            request: { id: null, idempotency_key: null }, type,
        };
        events.set(event.id, { event, deliveries: [] });
        return event;
    }

    // Delivers one event (signed now, as every Stripe attempt is);
    // retries on anything but 2xx.  Resolves to the last status (0: no
    // answer).
    async function deliver(event, { retries = o.retries, t } = {}) {
        const rec = events.get(event.id) || { event, deliveries: [] };
        events.set(event.id, rec);
        const payload = JSON.stringify(event, null, 2);
        for (let attempt = 0; ; attempt++) {
            let status = 0;
            try {
                const res = await fetch(o.webhookUrl, {
                    method: 'POST',
                    headers: {
                        'Content-Type': 'application/json; charset=utf-8',
                        'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
                        'Stripe-Signature': signatureHeader(o.webhookSecret, payload, t ?? now()),
                        Accept: '*/*; q=0.5, application/xml',
                    },
                    body: payload,
                    signal: AbortSignal.timeout(20000),
                });
                status = res.status;
                await res.arrayBuffer();
            } catch {
                status = 0;
            }
            rec.deliveries.push({ status, at: Date.now() });
            count('webhook.delivery');
            if ((status >= 200 && status < 300) || attempt >= retries) return status;
            await new Promise((r) => setTimeout(r, o.retryMs));
        }
    }

    function eventsFor(s, flow) {
        const list = [];
        if (flow === 'async') {
            list.push(makeEvent('checkout.session.completed', { ...s, payment_status: 'unpaid' }));
        } else {
            list.push(makeEvent('checkout.session.completed', s));
        }
        return list;
    }

    // Pays session s: card (paid at once) or async (completed unpaid,
    // settled later by /_fake/sessions/{id}/settle).
    function pay(s, flow = 'card') {
        if (!s.payment_intent) {
            s.payment_intent = rid('pi_3', 24);
            charges.set(s.payment_intent, {
                id: rid('ch_3', 24), object: 'charge', amount: s.amount_total, amount_captured: s.amount_total,
                amount_refunded: 0, balance_transaction: rid('txn_3', 24), billing_details: {}, captured: true,
                created: now(), currency: s.currency, customer: null, description: null, disputed: false,
                livemode: false, metadata: {}, outcome: { network_status: 'approved_by_network', type: 'authorized' },
                paid: true, payment_intent: s.payment_intent, payment_method: rid('pm_1', 24), refunded: false,
                refunds: { object: 'list', data: [], has_more: false, total_count: 0, url: '' }, status: 'succeeded',
            });
        }
        s.status = 'complete';
        s.payment_status = flow === 'async' ? 'unpaid' : 'paid';
        return eventsFor(s, flow);
    }

    function settle(s, result) {
        if (result === 'failed') {
            s.payment_status = 'unpaid';
            return makeEvent('checkout.session.async_payment_failed', s);
        }
        s.payment_status = 'paid';
        return makeEvent('checkout.session.async_payment_succeeded', s);
    }

    function refund(charge, amount) {
        const n = amount ?? charge.amount - charge.amount_refunded;
        charge.amount_refunded = Math.min(charge.amount, charge.amount_refunded + n);
        charge.refunded = charge.amount_refunded === charge.amount;
        const re = {
            id: rid('re_3', 24), object: 'refund', amount: n, charge: charge.id, created: now(),
            currency: charge.currency, payment_intent: charge.payment_intent, status: 'succeeded',
        };
        charge.refunds.data.unshift(re);
        charge.refunds.total_count++;
        return makeEvent('charge.refunded', charge);
    }

    // A refund that later fails (a closed card, say): Stripe marks the
    // Refund failed, puts its amount back in the merchant's balance
    // (failure_balance_transaction) and sends charge.refund.updated and,
    // to endpoints that take them, refund.updated and refund.failed, each
    // with the Refund object.  The charge's amount_refunded is left as it
    // was (docs/PLATFORM.md "Billing" reads it so).
    function failRefund(refundId, types) {
        for (const charge of charges.values()) {
            const re = charge.refunds.data.find((x) => x.id === refundId);
            if (!re) continue;
            re.status = 'failed';
            re.failure_reason = 'expired_or_canceled_card';
            re.failure_balance_transaction = rid('txn_3', 24);
            return types.map((t) => makeEvent(t, re));
        }
        return null;
    }

    // A dispute of a charge: charge.dispute.created with the Dispute
    // (status needs_response, or warning_needs_response for an inquiry),
    // then charge.dispute.funds_withdrawn unless it is an inquiry.
    const disputes = new Map();          // id -> dispute object
    function dispute(charge, { amount, status = 'needs_response' }) {
        const d = {
            id: rid('dp_1', 24), object: 'dispute', amount: amount ?? charge.amount, balance_transactions: [],
            charge: charge.id, created: now(), currency: charge.currency, evidence: {},
            evidence_details: { due_by: now() + 7 * 86400, has_evidence: false, past_due: false, submission_count: 0 },
            is_charge_refundable: false, livemode: false, metadata: {}, payment_intent: charge.payment_intent,
            reason: 'fraudulent', status,
        };
        disputes.set(d.id, d);
        charge.disputed = true;
        const list = [makeEvent('charge.dispute.created', d)];
        if (!status.startsWith('warning_')) list.push(makeEvent('charge.dispute.funds_withdrawn', d));
        return list;
    }

    // Closes a dispute: won (charge.dispute.closed, then funds_reinstated
    // when funds had been withdrawn) or lost (charge.dispute.closed).
    function closeDispute(d, result) {
        const inquiry = d.status.startsWith('warning_');
        d.status = inquiry ? 'warning_closed' : result;
        const list = [makeEvent('charge.dispute.closed', d)];
        if (result === 'won' && !inquiry) list.push(makeEvent('charge.dispute.funds_reinstated', d));
        return list;
    }

    // Sends events in order, one after the other; returns their statuses.
    async function send(list, opts = {}) {
        const out = [];
        for (const e of list) out.push(await deliver(e, opts));
        return out;
    }

    // ---- HTTP -------------------------------------------------------------------

    function reply(res, status, body, headers = {}) {
        const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
        res.writeHead(status, {
            'Content-Type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json',
            'Content-Length': Buffer.byteLength(text), ...headers,
        });
        res.end(text);
    }

    function apiReply(res, { status, body }, extra = {}) {
        reply(res, status, body, {
            'Request-Id': rid('req_', 14), 'Stripe-Version': API_VERSION,
            ...(status === 401 ? { 'WWW-Authenticate': 'Basic realm="Stripe"' } : {}), ...extra,
        });
    }

    async function readBody(req) {
        const chunks = [];
        for await (const c of req) chunks.push(c);
        return Buffer.concat(chunks).toString('utf8');
    }

    const json = async (req) => {
        const t = await readBody(req);
        return t ? JSON.parse(t) : {};
    };

    const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

    function money(minor, cur) {
        const digits = ['jpy', 'krw', 'vnd', 'clp'].includes(cur) ? 0 : 2;
        return `${(minor / 10 ** digits).toFixed(digits)} ${String(cur).toUpperCase()}`;
    }

    function checkoutPage(s) {
        return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fake Stripe Checkout</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
.box{border:1px solid #ccd;border-radius:8px;padding:1.2rem}button{font:inherit;padding:.6rem 1.2rem;background:#635bff;color:#fff;border:0;border-radius:6px}</style></head>
<body><p>TEST MODE · fake Stripe Checkout</p><div class="box">
<h1>${esc(s._product)}</h1><p class="amount">${esc(money(s.amount_total, s.currency))}</p>
<p>Status: <span class="status">${esc(s.status)} / ${esc(s.payment_status)}</span></p>
${s.status === 'open' ? `<form method="post" action="/c/pay/${esc(s.id)}/pay"><button type="submit">Pay</button></form>` : ''}
${s.cancel_url ? `<p><a href="${esc(s.cancel_url)}">Cancel</a></p>` : ''}</div></body></html>`;
    }

    async function handle(req, res) {
        const url = new URL(req.url, 'http://fake');
        const p = url.pathname;
        let m;

        if (req.method === 'POST' && p === '/v1/checkout/sessions') {
            count('sessions.create');
            const text = await readBody(req);
            last['sessions.create'] = {
                headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'authorization')),
                authScheme: (req.headers.authorization || '').split(' ')[0], body: text,
            };
            const denied = authOk(req);
            if (denied) return apiReply(res, denied);
            const fail = nextFailure();
            if (fail === 'hang') return undefined;                   // never answered
            if (fail === 'drop') return req.socket.destroy();
            if (fail === '500') return apiReply(res, stripeError(500, 'api_error', 'An unknown error occurred'));
            if (fail === '503') return apiReply(res, stripeError(503, 'api_error', 'The server is temporarily unavailable'));
            if (fail === '429') {
                return apiReply(res, stripeError(429, 'invalid_request_error',
                    'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
                    { code: 'rate_limit', doc_url: 'https://stripe.com/docs/error-codes/rate-limit' }));
            }
            if (fail === '401') {
                return apiReply(res, stripeError(401, 'invalid_request_error',
                    `Invalid API Key provided: ${o.key.slice(0, 8)}****${o.key.slice(-4)}`));
            }
            if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] || '')) {
                return apiReply(res, stripeError(400, 'invalid_request_error',
                    'Invalid request (check that your POST content type is application/x-www-form-urlencoded).'));
            }
            const key = req.headers['idempotency-key'];
            if (key !== undefined && key.length > 255) {
                return apiReply(res, paramError('idempotency_key_too_long', 'Idempotency-Key',
                    'Idempotency keys can be at most 255 characters'));
            }
            const parsed = parseStripeForm(text);
            if (parsed.error) return apiReply(res, paramError('parameter_invalid_string', parsed.error, `Invalid parameter: ${parsed.error}`));
            const fingerprint = JSON.stringify(parsed.params);
            if (key !== undefined && idem.has(key)) {
                const prev = idem.get(key);
                if (prev.fingerprint !== fingerprint) {
                    count('idempotency.mismatch');
                    return apiReply(res, stripeError(400, 'idempotency_error',
                        `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`),
                    { 'Idempotency-Key': key });
                }
                count('idempotency.replay');
                return apiReply(res, prev.answer, { 'Idempotency-Key': key, 'Idempotent-Replayed': 'true' });
            }
            const bad = validateCreate(parsed.params);
            const answer = bad || { status: 200, body: sessionObject(parsed.params) };
            if (!bad) sessions.set(answer.body.id, answer.body);
            if (key !== undefined) idem.set(key, { fingerprint, answer });
            if (fail === 'drop-after-create') return req.socket.destroy();
            return apiReply(res, answer, key !== undefined ? { 'Idempotency-Key': key } : {});
        }

        if (req.method === 'GET' && (m = p.match(/^\/v1\/checkout\/sessions\/([^/]+)$/))) {
            const denied = authOk(req);
            if (denied) return apiReply(res, denied);
            const s = sessions.get(m[1]);
            if (!s) {
                return apiReply(res, paramError('resource_missing', 'session', `No such checkout.session: '${m[1]}'`));
            }
            return apiReply(res, { status: 200, body: s });
        }

        // the hosted checkout page and its Pay button
        if (req.method === 'GET' && (m = p.match(/^\/c\/pay\/([^/]+)$/))) {
            const s = sessions.get(m[1]);
            if (!s) return reply(res, 404, '<!doctype html><title>Not found</title><p>Something went wrong: this checkout does not exist.</p>');
            return reply(res, 200, checkoutPage(s));
        }
        if (req.method === 'POST' && (m = p.match(/^\/c\/pay\/([^/]+)\/pay$/))) {
            const s = sessions.get(m[1]);
            if (!s) return reply(res, 404, '<!doctype html><title>Not found</title><p>No such checkout.</p>');
            await readBody(req);
            if (s.status === 'open') {
                const list = pay(s, 'card');
                // delivered as Stripe does: apart from the buyer's redirect
                send(list);
            }
            const to = (s.success_url || '/').replace('{CHECKOUT_SESSION_ID}', s.id);
            res.writeHead(303, { Location: to, 'Content-Length': 0 });
            return res.end();
        }

        // ---- test controls ----
        if (p === '/_fake/stats' && req.method === 'GET') {
            return reply(res, 200, { requests: counts, sessions: sessions.size, idempotencyKeys: idem.size, last });
        }
        if (p === '/_fake/reset' && req.method === 'POST') {
            counts = {};
            last = {};
            failures = [];
            return reply(res, 200, { ok: true });
        }
        if (p === '/_fake/fail' && req.method === 'POST') {
            const b = await json(req);
            failures.push({ mode: String(b.mode), times: Number(b.times ?? 1) });
            return reply(res, 200, { ok: true, failures });
        }
        if (p === '/_fake/config' && req.method === 'POST') {
            const b = await json(req);
            for (const k of ['webhookUrl', 'webhookSecret', 'retries', 'retryMs']) if (b[k] !== undefined) o[k] = b[k];
            return reply(res, 200, { ok: true });
        }
        if ((m = p.match(/^\/_fake\/sessions\/([^/]+)$/)) && req.method === 'GET') {
            const s = sessions.get(m[1]);
            return s ? reply(res, 200, s) : reply(res, 404, { error: 'no such session' });
        }
        // pay: {"flow": "card"|"async", "send": true} -> {"events": [...]}
        if ((m = p.match(/^\/_fake\/sessions\/([^/]+)\/pay$/)) && req.method === 'POST') {
            const s = sessions.get(m[1]);
            if (!s) return reply(res, 404, { error: 'no such session' });
            const b = await json(req);
            const list = pay(s, b.flow || 'card');
            const statuses = b.send === false ? [] : await send(list);
            return reply(res, 200, { events: list, statuses, session: s });
        }
        // settle a delayed payment: {"result": "succeeded"|"failed", "send"}
        if ((m = p.match(/^\/_fake\/sessions\/([^/]+)\/settle$/)) && req.method === 'POST') {
            const s = sessions.get(m[1]);
            if (!s) return reply(res, 404, { error: 'no such session' });
            const b = await json(req);
            const e = settle(s, b.result || 'succeeded');
            const statuses = b.send === false ? [] : await send([e]);
            return reply(res, 200, { events: [e], statuses, session: s });
        }
        // refund: {"session" | "paymentIntent", "amount" (default: the rest), "send"}
        if (p === '/_fake/refunds' && req.method === 'POST') {
            const b = await json(req);
            const pi = b.paymentIntent || sessions.get(b.session)?.payment_intent;
            const charge = charges.get(pi);
            if (!charge) return reply(res, 404, { error: 'no such charge' });
            const e = refund(charge, b.amount);
            const statuses = b.send === false ? [] : await send([e]);
            return reply(res, 200, { events: [e], statuses, charge });
        }
        // fail a refund: {"types": [...] (default charge.refund.updated), "send"}
        if ((m = p.match(/^\/_fake\/refunds\/([^/]+)\/fail$/)) && req.method === 'POST') {
            const b = await json(req);
            const list = failRefund(m[1], b.types || ['charge.refund.updated']);
            if (!list) return reply(res, 404, { error: 'no such refund' });
            const statuses = b.send === false ? [] : await send(list);
            return reply(res, 200, { events: list, statuses });
        }
        // dispute a charge: {"session" | "paymentIntent", "amount", "status", "send"}
        if (p === '/_fake/disputes' && req.method === 'POST') {
            const b = await json(req);
            const pi = b.paymentIntent || sessions.get(b.session)?.payment_intent;
            const charge = charges.get(pi);
            if (!charge) return reply(res, 404, { error: 'no such charge' });
            const list = dispute(charge, b);
            const statuses = b.send === false ? [] : await send(list);
            return reply(res, 200, { events: list, statuses, dispute: list[0].data.object });
        }
        // close a dispute: {"result": "won"|"lost", "send"}
        if ((m = p.match(/^\/_fake\/disputes\/([^/]+)\/close$/)) && req.method === 'POST') {
            const d = disputes.get(m[1]);
            if (!d) return reply(res, 404, { error: 'no such dispute' });
            const b = await json(req);
            const list = closeDispute(d, b.result === 'won' ? 'won' : 'lost');
            const statuses = b.send === false ? [] : await send(list);
            return reply(res, 200, { events: list, statuses });
        }
        // (re)deliver stored events in the order given: {"ids": [...], "t"}
        if (p === '/_fake/deliver' && req.method === 'POST') {
            const b = await json(req);
            const list = [];
            for (const id of b.ids || []) {
                const rec = events.get(id);
                if (!rec) return reply(res, 404, { error: `no such event ${id}` });
                list.push(rec.event);
            }
            const statuses = await send(list, { retries: b.retries ?? 0, t: b.t });
            return reply(res, 200, { statuses });
        }
        if ((m = p.match(/^\/_fake\/events\/([^/]+)$/)) && req.method === 'GET') {
            const rec = events.get(m[1]);
            return rec ? reply(res, 200, rec) : reply(res, 404, { error: 'no such event' });
        }
        if (p === '/_fake/events' && req.method === 'GET') {
            return reply(res, 200, [...events.values()].map((r) => ({
                id: r.event.id, type: r.event.type, object: r.event.data.object.id, deliveries: r.deliveries,
            })));
        }
        return reply(res, 404, {
            error: { message: `Unrecognized request URL (${req.method}: ${p}).`, type: 'invalid_request_error' },
        });
    }

    const server = http.createServer((req, res) => {
        handle(req, res).catch((e) => {
            if (!res.headersSent) reply(res, 500, { error: { message: String(e.message || e), type: 'api_error' } });
        });
    });
    return {
        server,
        listen(port, host) {
            return new Promise((resolve) => server.listen(port, host, () => {
                base = `http://${host}:${server.address().port}`;
                resolve(server.address().port);
            }));
        },
    };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    let o;
    try {
        o = parseOptions(process.argv, process.env);
    } catch (e) {
        process.stderr.write(`fake stripe: ${e.message}\n`);
        process.exit(2);
    }
    const fake = createFakeStripe(o);
    fake.listen(o.port, o.host).then((port) => {
        process.stdout.write(`${JSON.stringify({ port })}\n`);
    }, (e) => {
        process.stderr.write(`fake stripe: cannot listen: ${e.message}\n`);
        process.exit(1);
    });
    const stop = () => {
        fake.server.closeAllConnections();
        fake.server.close(() => process.exit(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}
