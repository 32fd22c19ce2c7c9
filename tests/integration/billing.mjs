// Helpers for the billing tests (docs/PLATFORM.md "Billing"): checkout
// calls, the fake Stripe's controls (tests/fakes/stripe.mjs), Stripe
// events made and signed here as Stripe signs them, webhook deliveries,
// purchases and ledgers through psql.
import fs from 'node:fs';
import crypto from 'node:crypto';
import assert from 'node:assert/strict';
import { ORIGIN, request, get } from './lib.mjs';
import { psql, lit } from './accounts.mjs';
import { person } from './generations.mjs';

export const STRIPE_URL = process.env.NANO_TEST_STRIPE_URL || '';
// scripts/lib/stack.sh's fake Stripe keys
export const STRIPE_KEY = 'sk_test_nano_fake_0123456789abcdefghijkl';
export const WEBHOOK_SECRET = 'whsec_nano_fake_0123456789abcdefghijklmnopq';
export const JSON_H = { 'Content-Type': 'application/json', Origin: ORIGIN };

// The repo's packs.conf, read as the platform reads it.
export const PACKS = fs.readFileSync(new URL('../../packs.conf', import.meta.url), 'utf8').split('\n')
    .map((l) => l.replace(/#.*/, '').trim()).filter(Boolean)
    .map((l) => {
        const [id, credits, price, currency, ...label] = l.split(/\s+/);
        return { id, credits: Number(credits), price: Number(price), currency: currency.toLowerCase(), label: label.join(' ') };
    });
export const pack = (id) => PACKS.find((p) => p.id === id);

export function checkout(jar, body, headers = {}) {
    return request('POST', '/api/billing/checkout', {
        headers: jar ? jar.headers({ ...JSON_H, ...headers }) : { ...JSON_H, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        timeout: 60000,
    });
}

// A checkout that must work: {sessionId, url, purchase (its row)}.
export async function opened(jar, packId = 'starter') {
    const res = await checkout(jar, { pack: packId });
    if (res.status !== 200) throw new Error(`checkout answered ${res.status}: ${res.text}`);
    const { url } = res.json();
    const sessionId = new URL(url).pathname.split('/').pop();
    return { url, sessionId, purchase: purchaseBySession(sessionId) };
}

// ---- the fake Stripe -------------------------------------------------------------

export async function fake(path, body) {
    if (!STRIPE_URL) throw new Error('NANO_TEST_STRIPE_URL is not set (run through make test)');
    const res = await fetch(`${STRIPE_URL}${path}`, body === undefined ? {} : {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`fake Stripe ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
}

export const fakeStats = () => fake('/_fake/stats');
// Pays a session: {events, statuses, session}.
export const pay = (sessionId, opts = {}) => fake(`/_fake/sessions/${sessionId}/pay`, opts);
export const settle = (sessionId, opts = {}) => fake(`/_fake/sessions/${sessionId}/settle`, opts);
export const refund = (sessionId, amount, opts = {}) => fake('/_fake/refunds', { session: sessionId, amount, ...opts });
// Delivers stored events again, in this order: {statuses}.
export const deliver = (ids, opts = {}) => fake('/_fake/deliver', { ids, ...opts });
export const failNext = (mode, times = 1) => fake('/_fake/fail', { mode, times });

// ---- events signed here ----------------------------------------------------------------

export const now = () => Math.floor(Date.now() / 1000);
export const rid = (prefix) => `${prefix}${crypto.randomBytes(12).toString('hex')}`;

// An Event object as Stripe sends it.
export function stripeEvent(type, object, id = rid('evt_test_')) {
    return {
        id, object: 'event', api_version: '2024-06-20', created: now(), data: { object },
        livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type,
    };
}

export function v1(secret, t, payload) {
    return crypto.createHmac('sha256', secret).update(`${t}.`).update(payload).digest('hex');
}

export function signature(payload, { secret = WEBHOOK_SECRET, t = now() } = {}) {
    return `t=${t},v1=${v1(secret, t, payload)}`;
}

// POSTs a payload (an object is pretty-printed, as Stripe sends it) to
// the webhook with a Stripe-Signature (header: a string, or options for
// signature(); null: none).
export function webhook(payload, header = {}, extra = {}) {
    const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload, null, 2);
    const h = { 'Content-Type': 'application/json; charset=utf-8', 'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', ...extra };
    if (header !== null) h['Stripe-Signature'] = typeof header === 'string' ? header : signature(body, header);
    return request('POST', '/api/billing/webhook', { headers: h, body, timeout: 60000 });
}

// ---- rows ------------------------------------------------------------------------------

function one(sql) {
    const out = psql(sql);
    return out ? JSON.parse(out) : null;
}

export const purchaseBySession = (id) => one(`SELECT row_to_json(p) FROM "Purchase" p WHERE "stripeSessionId" = ${lit(id)}`);

// A paid purchase of packId for a new user: {u, sessionId, p (its row),
// events (what the fake delivered)}.
export async function bought(tagName, packId = 'starter') {
    const u = await person(tagName);
    const { sessionId } = await opened(u.jar, packId);
    const r = await pay(sessionId);
    assert.deepEqual(r.statuses, [200]);
    return { u, sessionId, p: purchaseBySession(sessionId), events: r.events };
}
export const purchase = (id) => one(`SELECT row_to_json(p) FROM "Purchase" p WHERE "id" = ${lit(id)}`);
export const purchasesOf = (userId) => JSON.parse(psql(`SELECT coalesce(json_agg(row_to_json(p) ORDER BY "createdAt"), '[]')
    FROM "Purchase" p WHERE "userId" = ${lit(userId)}`));
export const eventSeen = (id) => psql(`SELECT count(*) FROM "StripeEvent" WHERE "id" = ${lit(id)}`) === '1';

// A purchase's ledger rows, oldest first: [{reason, delta, amountRefunded}].
export function purchaseLedger(purchaseId) {
    return JSON.parse(psql(`SELECT coalesce(json_agg(json_build_object('reason', "reason", 'delta', "delta",
        'amountRefunded', "amountRefunded", 'userId', "userId") ORDER BY "id"), '[]')
        FROM "CreditLedger" WHERE "purchaseId" = ${lit(purchaseId)}`));
}

// Everything billing keeps for a user, to show that nothing changed.
export function snapshot(userId) {
    return psql(`SELECT json_build_object(
        'balance', (SELECT "balance" FROM "CreditAccount" WHERE "userId" = ${lit(userId)}),
        'ledger', (SELECT count(*) FROM "CreditLedger" WHERE "userId" = ${lit(userId)}),
        'purchases', (SELECT json_agg(json_build_object('id', "id", 'status', "status", 'pi', "paymentIntent",
            'refunded', "amountRefunded", 'taken', "creditsTakenBack") ORDER BY "id") FROM "Purchase" WHERE "userId" = ${lit(userId)}),
        'events', (SELECT count(*) FROM "StripeEvent"),
        'refunds', (SELECT count(*) FROM "StripeRefund"))`);
}

export const balanceApi = async (jar) => (await get('/api/credits?limit=1', { headers: jar.headers() })).json().balance;

// Fails a refund on the fake: {events, statuses} (types: the events sent).
export const failRefund = (refundId, opts = {}) => fake(`/_fake/refunds/${refundId}/fail`, opts);
// Disputes a session's charge: {events, statuses, dispute}.
export const dispute = (sessionId, opts = {}) => fake('/_fake/disputes', { session: sessionId, ...opts });
export const closeDispute = (disputeId, result, opts = {}) => fake(`/_fake/disputes/${disputeId}/close`, { result, ...opts });
// A purchase's ledger rows with the Stripe object each answers.
export function purchaseRows(purchaseId) {
    return JSON.parse(psql(`SELECT coalesce(json_agg(json_build_object('reason', "reason", 'delta', "delta",
        'object', "stripeObject") ORDER BY "id"), '[]') FROM "CreditLedger" WHERE "purchaseId" = ${lit(purchaseId)}`))
        .map((r) => [r.reason, Number(r.delta), r.object]);
}
