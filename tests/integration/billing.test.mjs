// Billing of issue 7 (docs/PLATFORM.md "Billing") against the fake Stripe
// (tests/fakes/stripe.mjs): the packs; checkout (session, cross-site,
// pack, Stripe down / refusing / its key wrong, the Idempotency-Key
// stored first and sent, a lost answer retried with the same key);
// the webhook (Stripe-Signature: wrong secret, old and future times,
// several v1, none, malformed; a replay; two events of one session;
// unpaid then paid or failed; out of order; refunds partial then full,
// floor, never twice; a refund before the grant; a negative balance;
// unknown events; bad JSON; bodies over 1 MiB; 100 parallel deliveries);
// the CSV export; billing without Stripe configured; the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { ORIGIN, get, request, location, isHtml } from './lib.mjs';
import {
    person, psql, lit, balanceOf, ledgerSum, setBalance, withBackendEnv, generate, logsDir,
} from './generations.mjs';
import { account, PSQL, PG_SOCK } from './accounts.mjs';
import {
    PACKS, pack, bought, checkout, opened, fake, fakeStats, pay, settle, refund, deliver, failNext,
    stripeEvent, signature, v1, webhook, now, rid, purchaseBySession, purchase, purchasesOf,
    eventSeen, purchaseLedger, snapshot, balanceApi, STRIPE_KEY, WEBHOOK_SECRET, JSON_H,
} from './billing.mjs';

const SIGNUP = 100;

// A checkout.session.completed event for an opened session of ours, as
// the fake would send it.
function sessionObject(sessionId, over = {}) {
    const p = purchaseBySession(sessionId);
    return {
        id: sessionId, object: 'checkout.session', amount_total: Number(p.amount), currency: p.currency,
        client_reference_id: p.userId, metadata: { userId: p.userId, purchaseId: p.id, pack: p.pack, credits: String(p.credits) },
        mode: 'payment', payment_intent: rid('pi_test_'), payment_status: 'paid', status: 'complete', ...over,
    };
}

// ---- packs ---------------------------------------------------------------------------

test('GET /api/billing/packs lists packs.conf as [{id, credits, price, currency, label}]', async () => {
    const res = await get('/api/billing/packs');
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.deepEqual(res.json(), PACKS);
    assert.ok(PACKS.length >= 1);
    for (const p of res.json()) assert.deepEqual(Object.keys(p), ['id', 'credits', 'price', 'currency', 'label']);
});

// ---- checkout --------------------------------------------------------------------------

test('checkout needs a session, a same-site JSON request and a known pack', async () => {
    const u = await person('bill-refuse');
    const before = purchasesOf(u.id).length;
    const anon = await checkout(null, { pack: 'starter' });
    assert.equal(anon.status, 401, anon.text);
    assert.equal(anon.json().error, 'unauthorized');

    for (const headers of [{ Origin: 'http://evil.example' }, { Origin: 'null' },
        { 'Sec-Fetch-Site': 'cross-site' }, { 'Sec-Fetch-Site': 'same-site' }]) {
        const res = await checkout(u.jar, { pack: 'starter' }, headers);
        assert.equal(res.status, 403, `${JSON.stringify(headers)}: ${res.text}`);
        assert.equal(res.json().error, 'cross_site');
    }
    const formBody = await request('POST', '/api/billing/checkout', {
        headers: u.jar.headers({ 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN }), body: 'pack=starter',
    });
    assert.equal(formBody.status, 415, formBody.text);

    for (const [body, message] of [[{ pack: 'no-such-pack' }, 'there is no such pack'], [{}, 'choose a pack'],
        [{ pack: '' }, 'choose a pack']]) {
        const res = await checkout(u.jar, body);
        assert.equal(res.status, 400, res.text);
        assert.deepEqual(res.json(), { error: 'invalid_field', field: 'pack', message });
    }
    const bad = await checkout(u.jar, '{"pack":');
    assert.equal(bad.status, 400, bad.text);
    assert.equal(purchasesOf(u.id).length, before, 'no refusal leaves a purchase');
});

test('checkout is rate limited per client like account changes (429 with Retry-After)', async () => {
    const u = await person('bill-limit');
    const client = { 'X-Nano-Test-Client': `billing-${rid('')}` };
    const statuses = [];
    for (let i = 0; i < 12; i++) {
        statuses.push((await checkout(u.jar, { pack: 'no-such-pack' }, client)).status);
    }
    assert.deepEqual(statuses, [...Array(11).fill(400), 429]);
    const limited = await checkout(u.jar, { pack: 'starter' }, client);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '60');
    assert.equal(purchasesOf(u.id).length, 0);
});

test('checkout stores the pending purchase and its Idempotency-Key, then creates the Checkout Session as Stripe expects', async () => {
    const u = await person('bill-checkout');
    const p = pack('starter');
    const res = await checkout(u.jar, { pack: p.id });
    assert.equal(res.status, 200, res.text);
    const body = res.json();
    assert.deepEqual(Object.keys(body), ['url']);
    const url = new URL(body.url);
    assert.equal(url.origin, new URL(process.env.NANO_TEST_STRIPE_URL).origin, 'the fake\'s hosted page');
    const sessionId = url.pathname.split('/').pop();
    assert.match(sessionId, /^cs_test_/);

    const row = purchaseBySession(sessionId);
    assert.ok(row, 'the purchase knows its session');
    assert.equal(row.userId, u.id);
    assert.equal(row.pack, p.id);
    assert.equal(Number(row.credits), p.credits);
    assert.equal(Number(row.amount), p.price);
    assert.equal(row.currency, p.currency);
    assert.equal(row.status, 'open');
    assert.equal(row.paymentIntent, null);
    assert.match(row.idempotencyKey, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const sent = (await fakeStats()).last['sessions.create'];
    assert.equal(sent.headers['idempotency-key'], row.idempotencyKey, 'the stored key is the one sent');
    assert.equal(sent.authScheme, 'Bearer');
    assert.match(sent.headers['content-type'], /^application\/x-www-form-urlencoded/);
    const form = Object.fromEntries(new URLSearchParams(sent.body));
    assert.deepEqual(form, {
        mode: 'payment',
        'line_items[0][price_data][currency]': p.currency,
        'line_items[0][price_data][unit_amount]': String(p.price),
        'line_items[0][price_data][product_data][name]': p.label,
        'line_items[0][quantity]': '1',
        success_url: `${ORIGIN}/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
        cancel_url: `${ORIGIN}/billing?checkout=cancel`,
        client_reference_id: u.id,
        'metadata[userId]': u.id,
        'metadata[purchaseId]': row.id,
        'metadata[pack]': p.id,
        'metadata[credits]': String(p.credits),
    });
    // the session the fake made says the same
    const s = await fake(`/_fake/sessions/${sessionId}`);
    assert.equal(s.amount_total, p.price);
    assert.equal(s.client_reference_id, u.id);
    assert.equal(s.payment_status, 'unpaid');
    assert.deepEqual(s.metadata, { userId: u.id, purchaseId: row.id, pack: p.id, credits: String(p.credits) });

    // where it stands, for the page the buyer comes back to
    const st = await get(`/api/billing/checkout/${sessionId}`, { headers: u.jar.headers() });
    assert.equal(st.status, 200, st.text);
    assert.deepEqual(st.json(), { status: 'open', pack: p.id, credits: p.credits });
    const other = await person('bill-checkout-other');
    assert.equal((await get(`/api/billing/checkout/${sessionId}`, { headers: other.jar.headers() })).status, 404);
    assert.equal((await get(`/api/billing/checkout/${sessionId}`)).status, 401);
});

test('a lost answer is retried with the same Idempotency-Key and Stripe answers with the same session', async () => {
    const u = await person('bill-idem');
    const before = await fakeStats();
    await failNext('drop-after-create');
    const res = await checkout(u.jar, { pack: 'plus' });
    assert.equal(res.status, 200, res.text);
    const after = await fakeStats();
    assert.equal((after.requests['sessions.create'] || 0) - (before.requests['sessions.create'] || 0), 2, 'two calls');
    assert.equal((after.requests['idempotency.replay'] || 0) - (before.requests['idempotency.replay'] || 0), 1,
        'the second was a replay of the first');
    assert.equal(after.sessions - before.sessions, 1, 'one session made');
    const sessionId = new URL(res.json().url).pathname.split('/').pop();
    assert.equal(purchaseBySession(sessionId).status, 'open');
    assert.equal(purchasesOf(u.id).length, 1);
});

test('the fake refuses a reused Idempotency-Key with other parameters (Stripe\'s idempotency_error)', async () => {
    const key = `test-${rid('')}`;
    const post = (body) => fetch(`${process.env.NANO_TEST_STRIPE_URL}/v1/checkout/sessions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${STRIPE_KEY}`, 'Content-Type': 'application/x-www-form-urlencoded', 'Idempotency-Key': key },
        body,
    });
    const base = 'mode=payment&success_url=https%3A%2F%2Fx.example%2F&line_items[0][quantity]=1'
        + '&line_items[0][price_data][currency]=usd&line_items[0][price_data][product_data][name]=A';
    const a = await post(`${base}&line_items[0][price_data][unit_amount]=100`);
    const b = await post(`${base}&line_items[0][price_data][unit_amount]=100`);
    const c = await post(`${base}&line_items[0][price_data][unit_amount]=200`);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    assert.equal((await a.json()).id, (await b.json()).id);
    assert.equal(c.status, 400);
    assert.equal((await c.json()).error.type, 'idempotency_error');
    const noKey = await fetch(`${process.env.NANO_TEST_STRIPE_URL}/v1/checkout/sessions`, { method: 'POST', body: base });
    assert.equal(noKey.status, 401);
    assert.equal((await noKey.json()).error.type, 'invalid_request_error');
});

test('Stripe down, failing, limiting or refusing the key: 503 or 502 with a clear message, the purchase marked error', async () => {
    const u = await person('bill-down');
    const cases = [
        ['drop', 2, 503, 'payment_unavailable'],          // no answer, twice
        ['500', 1, 503, 'payment_unavailable'],
        ['503', 1, 503, 'payment_unavailable'],
        ['429', 1, 503, 'payment_unavailable'],
        ['401', 1, 502, 'payment_error'],
    ];
    for (const [mode, times, status, error] of cases) {
        await failNext(mode, times);
        const res = await checkout(u.jar, { pack: 'starter' });
        assert.equal(res.status, status, `${mode}: ${res.text}`);
        const j = res.json();
        assert.equal(j.error, error, mode);
        assert.match(j.message, /payment service/);
        assert.ok(!res.text.includes(STRIPE_KEY) && !res.text.includes('sk_test'), 'no key in the answer');
        if (mode === '429') assert.equal(res.headers['retry-after'], '5');
    }
    const rows = purchasesOf(u.id);
    assert.equal(rows.length, cases.length);
    for (const r of rows) {
        assert.equal(r.status, 'error');
        assert.equal(r.stripeSessionId, null);
    }
});

test('a wrong STRIPE_SECRET_KEY: Stripe\'s 401 becomes 502, and the key is in no answer and no log', async () => {
    const wrong = 'sk_test_wrong_key_for_the_test_0123456789';
    const u = await person('bill-wrongkey');
    await withBackendEnv('platform', [`STRIPE_SECRET_KEY=${wrong}`], async () => {
        const res = await checkout(u.jar, { pack: 'starter' });
        assert.equal(res.status, 502, res.text);
        assert.equal(res.json().error, 'payment_error');
        assert.match(res.json().message, /credentials/);
        assert.ok(!res.text.includes(wrong.slice(-4)));
    });
    for (const f of fs.readdirSync(logsDir())) {
        const text = fs.readFileSync(`${logsDir()}/${f}`, 'utf8');
        assert.ok(!text.includes(wrong), `the wrong key in ${f}`);
        assert.ok(!text.includes(STRIPE_KEY), `the key in ${f}`);
        assert.ok(!text.includes(WEBHOOK_SECRET), `the webhook secret in ${f}`);
    }
});

// ---- the webhook: granting -----------------------------------------------------------------

test('paying on the fake grants the pack once: a "purchase" ledger row, the payment intent kept, the event recorded', async () => {
    const { u, p, events } = await bought('bill-grant', 'plus');
    const credits = pack('plus').credits;
    assert.equal(p.status, 'paid');
    assert.match(p.paymentIntent, /^pi_/);
    assert.ok(p.paidAt);
    assert.equal(balanceOf(u.id), SIGNUP + credits);
    assert.equal(ledgerSum(u.id), SIGNUP + credits);
    assert.deepEqual(purchaseLedger(p.id), [{ reason: 'purchase', delta: credits, amountRefunded: null, userId: u.id }]);
    assert.equal(events.length, 1);
    assert.equal(events[0].type, 'checkout.session.completed');
    assert.ok(eventSeen(events[0].id));
    const api = (await get('/api/credits', { headers: u.jar.headers() })).json();
    assert.equal(api.balance, SIGNUP + credits);
    assert.deepEqual(api.ledger[0], { ...api.ledger[0], delta: credits, reason: 'purchase', module: null, generationId: null });
});

test('a replay of the same event (re-signed, as Stripe retries) changes nothing', async () => {
    const { u, p, events } = await bought('bill-replay');
    const before = snapshot(u.id);
    const r = await deliver([events[0].id, events[0].id]);
    assert.deepEqual(r.statuses, [200, 200]);
    assert.equal(snapshot(u.id), before);
    assert.equal(purchaseLedger(p.id).length, 1);
    // the answer says so: acted-on type, handled before
    const again = await webhook(events[0]);
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.json(), { received: true, ignored: false, duplicate: true });
    assert.equal(snapshot(u.id), before);
});

test('the same session in two events (completed and async_payment_succeeded, both paid) is granted once', async () => {
    const u = await person('bill-two-events');
    const { sessionId } = await opened(u.jar);
    const obj = sessionObject(sessionId);
    for (const type of ['checkout.session.completed', 'checkout.session.async_payment_succeeded',
        'checkout.session.completed']) {
        const res = await webhook(stripeEvent(type, obj));
        assert.equal(res.status, 200, res.text);
    }
    assert.equal(balanceOf(u.id), SIGNUP + pack('starter').credits);
    const p = purchaseBySession(sessionId);
    assert.equal(purchaseLedger(p.id).length, 1);
    assert.equal(p.paymentIntent, obj.payment_intent);
});

test('a delayed payment: completed unpaid grants nothing; async_payment_succeeded grants; a failed one never does', async () => {
    const u = await person('bill-async');
    const { sessionId } = await opened(u.jar);
    const r = await pay(sessionId, { flow: 'async' });
    assert.deepEqual(r.statuses, [200]);
    assert.equal(r.events[0].data.object.payment_status, 'unpaid');
    let p = purchaseBySession(sessionId);
    assert.equal(p.status, 'unpaid');
    assert.match(p.paymentIntent, /^pi_/, 'the payment intent is kept from the first event');
    assert.equal(balanceOf(u.id), SIGNUP);
    assert.deepEqual((await get(`/api/billing/checkout/${sessionId}`, { headers: u.jar.headers() })).json().status, 'unpaid');
    const s = await settle(sessionId, { result: 'succeeded' });
    assert.deepEqual(s.statuses, [200]);
    assert.equal(s.events[0].type, 'checkout.session.async_payment_succeeded');
    p = purchaseBySession(sessionId);
    assert.equal(p.status, 'paid');
    assert.equal(balanceOf(u.id), SIGNUP + pack('starter').credits);

    const v = await person('bill-async-fail');
    const o2 = await opened(v.jar);
    await pay(o2.sessionId, { flow: 'async' });
    const f = await settle(o2.sessionId, { result: 'failed' });
    assert.equal(f.events[0].type, 'checkout.session.async_payment_failed');
    assert.equal(purchaseBySession(o2.sessionId).status, 'failed');
    assert.equal(balanceOf(v.id), SIGNUP);
    assert.equal(purchaseLedger(o2.purchase.id).length, 0);
});

test('out of order: async_payment_succeeded before completed (unpaid) grants once and stays paid', async () => {
    const u = await person('bill-order');
    const { sessionId } = await opened(u.jar);
    const first = await pay(sessionId, { flow: 'async', send: false });
    const second = await settle(sessionId, { result: 'succeeded', send: false });
    const r = await deliver([second.events[0].id, first.events[0].id, second.events[0].id]);
    assert.deepEqual(r.statuses, [200, 200, 200]);
    const p = purchaseBySession(sessionId);
    assert.equal(p.status, 'paid', 'a later "unpaid" does not take it back');
    assert.equal(balanceOf(u.id), SIGNUP + pack('starter').credits);
    assert.equal(purchaseLedger(p.id).length, 1);
});

test('expired and unknown sessions change no balance', async () => {
    const u = await person('bill-expired');
    const { sessionId } = await opened(u.jar);
    const exp = await webhook(stripeEvent('checkout.session.expired',
        sessionObject(sessionId, { payment_status: 'unpaid', status: 'expired', payment_intent: null })));
    assert.equal(exp.status, 200, exp.text);
    assert.equal(purchaseBySession(sessionId).status, 'expired');
    const stranger = stripeEvent('checkout.session.completed', {
        id: rid('cs_test_'), object: 'checkout.session', payment_status: 'paid', payment_intent: rid('pi_'),
        client_reference_id: u.id, metadata: { purchaseId: 'not-ours' }, amount_total: 100, currency: 'usd',
    });
    const res = await webhook(stranger);
    assert.equal(res.status, 200, res.text);
    assert.ok(eventSeen(stranger.id));
    assert.equal(balanceOf(u.id), SIGNUP);
    assert.equal(purchaseLedger(purchaseBySession(sessionId).id).length, 0);
});

test('a session whose id the purchase never stored is found by its metadata, for its own user only', async () => {
    const u = await person('bill-meta');
    const { sessionId, purchase: p } = await opened(u.jar);
    const obj = sessionObject(sessionId);
    psql(`UPDATE "Purchase" SET "stripeSessionId" = NULL, "status" = 'pending' WHERE "id" = ${lit(p.id)}`);
    const other = await person('bill-meta-other');
    // metadata naming this purchase, but another user's client_reference_id
    const forged = await webhook(stripeEvent('checkout.session.completed',
        { ...obj, id: rid('cs_test_'), payment_intent: rid('pi_test_'), client_reference_id: other.id }));
    assert.equal(forged.status, 200);
    assert.equal(balanceOf(u.id), SIGNUP);
    assert.equal(balanceOf(other.id), SIGNUP);
    const res = await webhook(stripeEvent('checkout.session.completed', obj));
    assert.equal(res.status, 200, res.text);
    assert.equal(purchase(p.id).stripeSessionId, sessionId);
    assert.equal(balanceOf(u.id), SIGNUP + pack('starter').credits);
});

// ---- the webhook: signatures -----------------------------------------------------------------

test('Stripe-Signature: a wrong secret, old and future times, none, v0 only and malformed headers get 400 and change nothing', async () => {
    const u = await person('bill-sig');
    const { sessionId } = await opened(u.jar);
    const event = stripeEvent('checkout.session.completed', sessionObject(sessionId));
    const body = JSON.stringify(event, null, 2);
    const t = now();
    const before = snapshot(u.id);
    const cases = {
        'wrong secret': signature(body, { secret: 'whsec_someone_else_0123456789abcdef' }),
        'the secret decoded': signature(body, { secret: WEBHOOK_SECRET.slice(6) }),
        'old (301 s)': signature(body, { t: t - 301 }),
        'old (a day)': signature(body, { t: t - 86400 }),
        // a few seconds past the limit: the clock moves on while the request travels
        'future (305 s)': signature(body, { t: t + 305 }),
        'future (an hour)': signature(body, { t: t + 3600 }),
        'another time than signed': `t=${t + 1},v1=${v1(WEBHOOK_SECRET, t, body)}`,
        'v0 only': `t=${t},v0=${v1(WEBHOOK_SECRET, t, body)}`,
        'no t': `v1=${v1(WEBHOOK_SECRET, t, body)}`,
        'garbage': 'not a signature',
        'empty': '',
        'two t': `t=${t},t=${t},v1=${v1(WEBHOOK_SECRET, t, body)}`,
        'huge': `t=${t},${`v1=${'0'.repeat(64)},`.repeat(200)}v1=${v1(WEBHOOK_SECRET, t, body)}`,
    };
    for (const [name, header] of Object.entries(cases)) {
        const res = await webhook(body, header);
        assert.equal(res.status, 400, `${name}: ${res.status} ${res.text}`);
        assert.equal(res.json().error, 'bad_signature', name);
    }
    const none = await webhook(body, null);
    assert.equal(none.status, 400);
    assert.equal(none.json().message, 'no Stripe-Signature header');
    // a body changed after signing
    const tampered = await webhook(body.replace('"paid"', '"paid" '), signature(body));
    assert.equal(tampered.status, 400);
    assert.equal(snapshot(u.id), before, 'nothing changed');
    assert.ok(!eventSeen(event.id));
    // within 300 s either way, and the same body with the right secret, works
    const ok = await webhook(body, signature(body, { t: t - 250 }));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(balanceOf(u.id), SIGNUP + pack('starter').credits);
});

test('several v1 values, one of them right (a secret being rolled), are accepted', async () => {
    const u = await person('bill-v1s');
    const { sessionId } = await opened(u.jar);
    const body = JSON.stringify(stripeEvent('checkout.session.completed', sessionObject(sessionId)), null, 2);
    const t = now();
    const header = `t=${t},v1=${v1('whsec_old_secret_0123456789', t, body)},v1=${v1(WEBHOOK_SECRET, t, body)},v0=${'a'.repeat(64)}`;
    const res = await webhook(body, header);
    assert.equal(res.status, 200, res.text);
    assert.equal(balanceOf(u.id), SIGNUP + pack('starter').credits);
});

test('a signed body that is not JSON, or no event, gets 400 and changes nothing', async () => {
    const before = psql('SELECT count(*) FROM "StripeEvent"');
    for (const body of ['{"id": "evt_x", "type": ', 'null', '[]', '"event"', '',
        JSON.stringify({ id: 'evt_noobj', type: 'charge.refunded' }),
        JSON.stringify({ type: 'checkout.session.completed', data: { object: {} } }),
        JSON.stringify(stripeEvent('charge.refunded', { id: 'ch_1', payment_intent: 'pi_1', amount: 'lots' }))]) {
        const res = await webhook(body);
        assert.equal(res.status, 400, `${body}: ${res.text}`);
        assert.ok(['bad_request', 'invalid_event'].includes(res.json().error));
    }
    // an object jansson cannot hold is named as what it is, not as "no
    // object"
    const huge = JSON.stringify(stripeEvent('charge.refunded', { id: 'ch_2', payment_intent: 'pi_2', amount: 1 }))
        .replace('"amount":1', '"amount_refunded":100000000000000000000,"amount":1');
    const res = await webhook(huge);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json().error, 'bad_request');
    assert.match(res.json().message, /^the body is not valid JSON: .*too big/, res.text);
    const arr = await webhook('[]');
    assert.equal(arr.json().message, 'the body is not a JSON object');
    assert.equal(psql('SELECT count(*) FROM "StripeEvent"'), before);
});

test('an unknown event is acknowledged (200) and ignored, once', async () => {
    const e = stripeEvent('customer.created', { id: rid('cus_'), object: 'customer', email: 'x@example.com' });
    const res = await webhook(e);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { received: true, ignored: true, duplicate: false });
    assert.ok(eventSeen(e.id));
    const again = await webhook(e);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json(), { received: true, ignored: true, duplicate: true });
    // a refund of a charge with no payment intent is none of ours
    const r = await webhook(stripeEvent('charge.refunded', { id: 'ch_x', object: 'charge', amount: 100, amount_refunded: 100, payment_intent: null }));
    assert.equal(r.status, 200);
    assert.equal(r.json().ignored, true);
});

test('bodies up to 1 MiB are read; over 1 MiB they are refused (413) and nothing changes', async () => {
    // 1 MiB exactly, signed
    const e = stripeEvent('customer.updated', { id: rid('cus_'), object: 'customer', pad: '' });
    const plain = JSON.stringify(e);
    e.data.object.pad = 'x'.repeat(1024 * 1024 - plain.length);
    const body = JSON.stringify(e);
    assert.equal(Buffer.byteLength(body), 1024 * 1024);
    const ok = await webhook(body);
    assert.equal(ok.status, 200, ok.text.slice(0, 200));
    assert.ok(eventSeen(e.id));

    const big = stripeEvent('customer.updated', { id: rid('cus_'), object: 'customer', pad: 'x'.repeat(1024 * 1024) });
    const bigBody = JSON.stringify(big);
    const res = await webhook(bigBody);
    assert.equal(res.status, 413, res.text.slice(0, 200));
    assert.ok(!eventSeen(big.id));
});

test('100 parallel deliveries of one event grant exactly once', async () => {
    const u = await person('bill-parallel');
    const { sessionId } = await opened(u.jar, 'studio');
    const body = JSON.stringify(stripeEvent('checkout.session.completed', sessionObject(sessionId)), null, 2);
    const answers = await Promise.all(Array.from({ length: 100 }, () => webhook(body)));
    const byStatus = {};
    for (const a of answers) byStatus[a.status] = (byStatus[a.status] || 0) + 1;
    assert.deepEqual(byStatus, { 200: 100 }, JSON.stringify(byStatus));
    assert.equal(balanceOf(u.id), SIGNUP + pack('studio').credits);
    assert.equal(ledgerSum(u.id), SIGNUP + pack('studio').credits);
    assert.equal(purchaseLedger(purchaseBySession(sessionId).id).length, 1);
    // and 50 parallel events of the same session, each its own id
    const obj = sessionObject(sessionId);
    const many = await Promise.all(Array.from({ length: 50 }, (_, i) => webhook(stripeEvent(
        i % 2 ? 'checkout.session.async_payment_succeeded' : 'checkout.session.completed', obj))));
    assert.ok(many.every((a) => a.status === 200));
    assert.equal(balanceOf(u.id), SIGNUP + pack('studio').credits);
});

test('the webhook needs no session and no Origin, and a browser\'s cross-site POST without Stripe\'s signature still changes nothing', async () => {
    const u = await person('bill-nosession');
    const { sessionId } = await opened(u.jar);
    const body = JSON.stringify(stripeEvent('checkout.session.completed', sessionObject(sessionId)));
    const forged = await webhook(body, 't=1,v1=00', { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' });
    assert.equal(forged.status, 400);
    assert.equal(balanceOf(u.id), SIGNUP);
    const res = await webhook(body);      // no cookie, no Origin
    assert.equal(res.status, 200, res.text);
    assert.equal(balanceOf(u.id), SIGNUP + pack('starter').credits);
});

// ---- refunds -------------------------------------------------------------------------------

test('refunds: partial then full take back floor(credits x refunded / amount), never twice for the same amount', async () => {
    const { u, sessionId, p } = await bought('bill-refund', 'plus');
    const { credits, price } = pack('plus');
    const part = Math.floor(price / 3) + 1;
    const first = Math.floor((credits * part) / price);
    const r1 = await refund(sessionId, part);
    assert.deepEqual(r1.statuses, [200]);
    assert.equal(r1.events[0].type, 'charge.refunded');
    assert.equal(r1.events[0].data.object.amount_refunded, part);
    assert.equal(r1.events[0].data.object.refunded, false);
    assert.equal(balanceOf(u.id), SIGNUP + credits - first);
    let row = purchase(p.id);
    assert.equal(Number(row.amountRefunded), part);
    assert.equal(Number(row.creditsTakenBack), first);

    const r2 = await refund(sessionId);     // the rest
    assert.equal(r2.events[0].data.object.refunded, true);
    assert.equal(balanceOf(u.id), SIGNUP, 'all of the pack taken back');
    row = purchase(p.id);
    assert.equal(Number(row.amountRefunded), price);
    assert.equal(Number(row.creditsTakenBack), credits);
    assert.deepEqual(purchaseLedger(p.id).map((x) => [x.reason, x.delta, x.amountRefunded]), [
        ['purchase', credits, null], ['chargeback', -first, part], ['chargeback', -(credits - first), price]]);

    // replays and an older refund state arriving late change nothing
    const before = snapshot(u.id);
    const d = await deliver([r1.events[0].id, r2.events[0].id, r1.events[0].id]);
    assert.deepEqual(d.statuses, [200, 200, 200]);
    assert.equal(snapshot(u.id), before);
    const late = stripeEvent('charge.refunded', { ...r1.events[0].data.object });
    assert.equal((await webhook(late)).status, 200);
    assert.equal(balanceOf(u.id), SIGNUP);
    assert.equal(purchaseLedger(p.id).length, 3);
    assert.equal(Number(purchase(p.id).amountRefunded), price, 'the larger total stays');
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});

test('a refund too small for a whole credit takes nothing until the total reaches one', async () => {
    const { u, sessionId, p } = await bought('bill-refund-floor', 'starter');
    const { credits, price } = pack('starter');
    const tiny = Math.floor(price / credits) - 1 || 1;     // under one credit's worth
    await refund(sessionId, tiny);
    assert.equal(balanceOf(u.id), SIGNUP + credits);
    assert.equal(Number(purchase(p.id).amountRefunded), tiny);
    await refund(sessionId, tiny + 2);
    const want = Math.floor((credits * (2 * tiny + 2)) / price);
    assert.equal(balanceOf(u.id), SIGNUP + credits - want);
    assert.equal(Number(purchase(p.id).creditsTakenBack), want);
});

test('a refund that comes before the grant is recorded and applied when the grant comes', async () => {
    const u = await person('bill-refund-first');
    const { sessionId } = await opened(u.jar, 'starter');
    const paid = await pay(sessionId, { send: false });            // the session event held back
    const r = await refund(sessionId, undefined);                  // a full refund, delivered now
    assert.deepEqual(r.statuses, [200]);
    const pi = paid.session.payment_intent;
    assert.equal(balanceOf(u.id), SIGNUP, 'nothing to take back yet');
    assert.equal(psql(`SELECT "amountRefunded" FROM "StripeRefund" WHERE "paymentIntent" = ${lit(pi)}`),
        String(pack('starter').price));
    const d = await deliver([paid.events[0].id]);
    assert.deepEqual(d.statuses, [200]);
    const p = purchaseBySession(sessionId);
    assert.equal(p.status, 'paid');
    assert.deepEqual(purchaseLedger(p.id).map((x) => [x.reason, x.delta]),
        [['purchase', pack('starter').credits], ['chargeback', -pack('starter').credits]]);
    assert.equal(balanceOf(u.id), SIGNUP);

    // a partial refund recorded while the payment is still on its way
    const v = await person('bill-refund-unpaid');
    const o = await opened(v.jar, 'plus');
    await pay(o.sessionId, { flow: 'async' });
    await refund(o.sessionId, 1000);
    assert.equal(balanceOf(v.id), SIGNUP);
    await settle(o.sessionId, { result: 'succeeded' });
    assert.equal(balanceOf(v.id), SIGNUP + pack('plus').credits - Math.floor((pack('plus').credits * 1000) / pack('plus').price));
});

test('a refund may take the balance below zero, and then generations are refused', async () => {
    const { u, sessionId } = await bought('bill-negative', 'starter');
    setBalance(u.id, 30);              // most of it spent
    await refund(sessionId);
    const want = 30 - pack('starter').credits;
    assert.ok(want < 0);
    assert.equal(balanceOf(u.id), want);
    assert.equal(ledgerSum(u.id), want);
    assert.equal(await balanceApi(u.jar), want);
    const gen = await generate(u.jar, 'qwen', { prompt: 'negative balance' });
    assert.equal(gen.status, 402, gen.text);
    assert.equal(balanceOf(u.id), want);
});

// ---- CSV ------------------------------------------------------------------------------------

test('GET /api/credits.csv: the whole ledger oldest first, CSV-escaped, formula cells neutralised', async () => {
    const { u } = await bought('bill-csv', 'starter');
    const uid = lit(u.id);
    psql(`INSERT INTO "CreditLedger" ("userId", "delta", "reason", "module", "generationId", "note") VALUES
        (${uid}, 0, '=HYPERLINK("http://evil.example","x")', 'a,b', 'say "hi"', NULL),
        (${uid}, 0, '+cmd', '-2+3', '@SUM(A1)', '=1+1'),
        (${uid}, 0, E'two\\nlines', NULL, NULL, 'for the outage, "sorry"')`);
    const res = await get('/api/credits.csv', { headers: u.jar.headers() });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'], /^text\/csv; charset=utf-8$/);
    assert.match(res.headers['content-disposition'], /^attachment; filename="credits-\d{4}-\d\d-\d\d\.csv"$/);
    const rows = JSON.parse(psql(`SELECT json_agg(json_build_object('at', to_char("createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'delta', "delta") ORDER BY "id") FROM "CreditLedger" WHERE "userId" = ${uid}`));
    assert.equal(res.text, [
        'createdAt,delta,reason,module,generationId,note',
        `${rows[0].at},${rows[0].delta},signup,,,`,
        `${rows[1].at},${rows[1].delta},purchase,,,`,
        `${rows[2].at},0,"'=HYPERLINK(""http://evil.example"",""x"")","a,b","say ""hi""",`,
        `${rows[3].at},0,"'+cmd","'-2+3","'@SUM(A1)","'=1+1"`,
        `${rows[4].at},0,"two\nlines",,,"for the outage, ""sorry"""`,
        ''].join('\r\n'));
    assert.equal((await get('/api/credits.csv')).status, 401);
});

test('the CSV of a long ledger (5,000 rows) is whole', async () => {
    const u = await person('bill-csv-long');
    psql(`INSERT INTO "CreditLedger" ("userId", "delta", "reason") SELECT ${lit(u.id)}, 0, 'adjustment' FROM generate_series(1, 4999)`);
    const res = await get('/api/credits.csv', { headers: u.jar.headers() });
    assert.equal(res.status, 200);
    const lines = res.text.split('\r\n');
    assert.equal(lines.length, 1 + 5000 + 1);
    assert.match(lines[1], /,100,signup,,,$/);
    assert.match(lines[5000], /,0,adjustment,,,$/);
});

// The CSV reads 2,000 rows at a time: every batch from one snapshot, so a
// row committed between two batches, with an id below the last one read,
// is not left out while rows committed after it are in.  The first batch
// is made to take 4 s (a row-level security policy that sleeps on its
// last row) while a transaction that took its id earlier commits, and a
// row after it is written.
test('the CSV of a long ledger is one snapshot: no row left out between two batches while later ones are in', async () => {
    const u = await person('bill-csv-snapshot');
    const uid = lit(u.id);
    // set up first: the policy's ALTER TABLE would wait for "early"
    psql(['CREATE TABLE "csv_gate_at" ("id" bigint)',
        `CREATE FUNCTION "csv_gate"(i bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
            BEGIN IF i = (SELECT "id" FROM "csv_gate_at") THEN PERFORM pg_sleep(4); END IF; RETURN true; END $$`,
        'CREATE POLICY "csv_gate" ON "CreditLedger" USING ("csv_gate"("id")) WITH CHECK (true)',
        'ALTER TABLE "CreditLedger" ENABLE ROW LEVEL SECURITY',
        'ALTER TABLE "CreditLedger" FORCE ROW LEVEL SECURITY']);
    let done = Promise.resolve(0);
    try {
        const early = spawn(PSQL, ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', PG_SOCK, '-U', 'nano', '-d', 'nano', '-c',
            `BEGIN; INSERT INTO "CreditLedger" ("userId", "delta", "reason") VALUES (${uid}, 7, 'early');
             SELECT pg_sleep(3); COMMIT;`,
            '-c', `INSERT INTO "CreditLedger" ("userId", "delta", "reason") VALUES (${uid}, 11, 'late');`], { stdio: 'ignore' });
        done = new Promise((resolve) => early.on('exit', resolve));
        for (let i = 0; i < 50 && psql(`SELECT count(*) FROM pg_stat_activity WHERE "query" LIKE '%pg_sleep(3)%'
            AND "state" = 'active' AND "pid" <> pg_backend_pid()`) === '0'; i++) {
            await new Promise((r) => setTimeout(r, 50));         // until its id is taken
        }
        psql(`INSERT INTO "CreditLedger" ("userId", "delta", "reason") SELECT ${uid}, 0, 'filler' FROM generate_series(1, 1999)`);
        // the last row of the first batch ("early" is not committed yet)
        psql(`INSERT INTO "csv_gate_at" SELECT "id" FROM "CreditLedger" WHERE "userId" = ${uid} ORDER BY "id" OFFSET 1999 LIMIT 1`);
        const t0 = Date.now();
        const res = await get('/api/credits.csv', { headers: u.jar.headers(), timeout: 30000 });
        assert.equal(res.status, 200, res.text);
        assert.ok(Date.now() - t0 >= 4000, 'the first batch waited');
        assert.equal(await done, 0);
        const reasons = res.text.split('\r\n').slice(1, -1).map((l) => l.split(',')[2]);
        assert.equal(reasons.filter((r) => r === 'filler').length, 1999);
        assert.ok(!reasons.includes('late') || reasons.includes('early'),
            `a row written after "early" committed is in, "early" is not: ${reasons.filter((r) => r !== 'filler')}`);
    } finally {
        await done;
        psql(['ALTER TABLE "CreditLedger" NO FORCE ROW LEVEL SECURITY',
            'ALTER TABLE "CreditLedger" DISABLE ROW LEVEL SECURITY',
            'DROP POLICY IF EXISTS "csv_gate" ON "CreditLedger"',
            'DROP FUNCTION IF EXISTS "csv_gate"(bigint)',
            'DROP TABLE IF EXISTS "csv_gate_at"']);
    }
});

// ---- without Stripe ----------------------------------------------------------------------

test('without STRIPE_SECRET_KEY: checkout 503 billing_disabled, the page sells nothing, the ledger still shows', async () => {
    const u = await person('bill-off');
    await withBackendEnv('platform', ['STRIPE_SECRET_KEY='], async () => {
        const res = await checkout(u.jar, { pack: 'starter' });
        assert.equal(res.status, 503, res.text);
        assert.equal(res.json().error, 'billing_disabled');
        assert.equal(purchasesOf(u.id).length, 0);
        const page = await get('/billing', { headers: u.jar.headers({ Accept: 'text/html' }) });
        assert.equal(page.status, 200);
        assert.match(page.text, /data-purchases="off"/);
        assert.equal((await get('/api/credits', { headers: u.jar.headers() })).status, 200);
        assert.equal((await get('/api/credits.csv', { headers: u.jar.headers() })).status, 200);
    });
    await withBackendEnv('platform', ['STRIPE_WEBHOOK_SECRET='], async () => {
        // no secret: no event can be trusted; Stripe keeps it and retries
        const e = stripeEvent('customer.created', { id: rid('cus_'), object: 'customer' });
        const res = await webhook(e);
        assert.equal(res.status, 503, res.text);
        assert.equal(res.json().error, 'billing_disabled');
        assert.ok(!eventSeen(e.id));
        // and nothing is sold that could never be confirmed
        assert.equal((await checkout(u.jar, { pack: 'starter' })).status, 503);
    });
});

test('a malformed packs file stops the platform at start, naming the line', async () => {
    const file = `${process.env.NANO_TEST_STATE}/bad-packs.conf`;
    fs.writeFileSync(file, 'ok 10 100 usd Fine\nbad 10 1.5 usd Broken\n');
    const log = `${logsDir()}/platform.log`;
    const size = fs.statSync(log).size;
    await assert.rejects(withBackendEnv('platform', [`NANO_PACKS_FILE=${file}`], async () => {}));
    const text = fs.readFileSync(log, 'utf8').slice(size);
    assert.match(text, /packs: .*bad-packs\.conf:2: price "1\.5" is not a whole number/);
    // put back as it was (withBackendEnv restarted it with the old file)
    assert.equal((await get('/api/billing/packs')).status, 200);
});

// ---- the page ---------------------------------------------------------------------------

test('GET /billing: signed out to sign-in; signed in the page with the shared header, Billing marked current', async () => {
    const anon = await get('/billing', { headers: { Accept: 'text/html' } });
    assert.equal(anon.status, 302);
    assert.equal(location(anon).raw, '/api/auth/signin?callbackUrl=%2Fbilling');
    const u = await person('bill-page');
    const res = await get('/billing', { headers: u.jar.headers({ Accept: 'text/html' }) });
    assert.equal(res.status, 200);
    assert.ok(isHtml(res));
    assert.match(res.text, new RegExp(`<header class="nb-header" data-nb-user="${u.id}">`), 'the header names the page\'s account');
    assert.match(res.text, /<a class="nb-billing" href="\/billing" aria-current="page">Billing<\/a>/);
    assert.match(res.text, /data-purchases="on"/);
    assert.match(res.text, /<script type="module" src="\/ui\/billing\.js"><\/script>/);
    assert.ok(!/\{\{/.test(res.text), 'every placeholder filled');
    // every other page links billing, uncurrent
    const home = await get('/', { headers: u.jar.headers({ Accept: 'text/html' }) });
    assert.match(home.text, /<a class="nb-billing" href="\/billing">Billing<\/a>/);
    const mod = await get('/qwen/', { headers: u.jar.headers({ Accept: 'text/html' }) });
    assert.match(mod.text, /<a class="nb-billing" href="\/billing">Billing<\/a>/);
    for (const f of ['billing.js', 'billing.css']) {
        assert.equal((await get(`/ui/${f}`)).status, 200, f);
    }
});

test('a deleted account keeps its purchases and their ledger rows under an anonymous id', async () => {
    const { u, p } = await bought('bill-delete');
    const res = await account('DELETE', '/api/account', u.jar, { password: u.user.password });
    assert.equal(res.status, 200, res.text);
    const row = purchase(p.id);
    assert.match(row.userId, /^deleted-[0-9a-f]{32}$/);
    assert.deepEqual(purchaseLedger(p.id).map((x) => x.userId), [row.userId]);
    assert.equal(purchasesOf(u.id).length, 0);
});

test('the account export holds the ledger as the page shows it, notes too, and the purchases', async () => {
    const { u, sessionId, p } = await bought('bill-export', 'plus');
    await refund(sessionId, 500);
    const uid = lit(u.id);
    psql(`BEGIN;
        INSERT INTO "CreditLedger" ("userId", "delta", "reason", "note") VALUES (${uid}, 5, 'grant', 'goodwill for ticket #12');
        UPDATE "CreditAccount" SET "balance" = "balance" + 5 WHERE "userId" = ${uid};
        COMMIT;`);
    const res = await get('/api/account/export', { headers: u.jar.headers() });
    assert.equal(res.status, 200, res.text);
    const x = res.json();
    const page = (await get('/api/credits?limit=100', { headers: u.jar.headers() })).json();
    const seen = (l) => [l.reason, l.delta, l.note];
    assert.deepEqual(x.credits.ledger.map(seen).reverse(), page.ledger.map(seen), 'the ledger the page shows');
    assert.equal(x.credits.ledger.at(-1).note, 'goodwill for ticket #12');
    const row = purchase(p.id);
    const iso = (col) => psql(`SELECT to_char("${col}", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM "Purchase" WHERE "id" = ${lit(p.id)}`);
    const taken = Math.floor((pack('plus').credits * 500) / pack('plus').price);
    assert.equal(Number(row.creditsTakenBack), taken);
    assert.deepEqual(x.credits.purchases, [{
        id: p.id, pack: 'plus', credits: pack('plus').credits, amount: pack('plus').price, currency: 'usd',
        status: 'paid', amountRefunded: 500, creditsTakenBack: taken, stripeSessionId: sessionId,
        paymentIntent: row.paymentIntent, createdAt: iso('createdAt'), paidAt: iso('paidAt'),
    }]);
    assert.ok(!res.text.includes(row.idempotencyKey), 'nothing of the server\'s');
});
