// Billing at its edges (docs/PLATFORM.md "Billing"): a refund Stripe
// later reports as failed gives back the credits it took, and a dispute
// takes the disputed payment's credits while it is open or lost and gives
// them back when it is won; each exactly once, whatever Stripe repeats
// (the same event again, another event type for the same refund, parallel
// deliveries) or reorders, with a ledger row each, and the ledger always
// sums to the balance (money.test.mjs's audit).  Against the fake Stripe
// (tests/fakes/stripe.mjs) and events signed here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { person, psql, lit, balanceOf, ledgerSum, setBalance } from './generations.mjs';
import {
    pack, bought, opened, pay, refund, deliver, stripeEvent, webhook, rid, purchaseBySession, purchase,
    balanceApi, failRefund, dispute, closeDispute, purchaseRows,
} from './billing.mjs';

const SIGNUP = 100;

// money.test.mjs's check: the balance is the ledger's sum and what
// /api/credits shows (below zero allowed: a payment taken back).
async function balanced(u, what) {
    const b = balanceOf(u.id);
    assert.equal(ledgerSum(u.id), b, `${what}: the balance is the ledger's sum`);
    assert.equal(await balanceApi(u.jar), b, `${what}: /api/credits`);
    return b;
}

const taken = (credits, part, price) => Math.floor((credits * part) / price);

// ---- failed refunds -------------------------------------------------------------------------

test('a refund Stripe reports as failed gives back the credits it took, once for all its events', async () => {
    const { u, sessionId, p } = await bought('rev-refund-fail', 'plus');
    const { credits, price } = pack('plus');
    const part = Math.floor(price / 3) + 1;
    const r = await refund(sessionId, part);
    assert.deepEqual(r.statuses, [200]);
    const re = r.events[0].data.object.refunds.data[0].id;
    assert.equal(await balanced(u, 'refunded'), SIGNUP + credits - taken(credits, part, price));

    const f = await failRefund(re, { types: ['charge.refund.updated'] });
    assert.deepEqual(f.statuses, [200]);
    assert.equal(f.events[0].data.object.status, 'failed');
    assert.equal(await balanced(u, 'failed'), SIGNUP + credits, 'the credits are back');
    assert.deepEqual(purchaseRows(p.id), [['purchase', credits, null],
        ['chargeback', -taken(credits, part, price), null], ['refund_failed', taken(credits, part, price), re]]);
    assert.equal(Number(purchase(p.id).creditsTakenBack), 0);

    // the same failure again: a replay, the other event types Stripe
    // sends for it, and all of them at once
    const again = await failRefund(re, { types: ['refund.updated', 'refund.failed'] });
    assert.deepEqual(again.statuses, [200, 200]);
    await deliver([f.events[0].id]);
    const copies = [0, 1, 2, 3, 4, 5, 6, 7].map(() => stripeEvent('refund.failed', f.events[0].data.object));
    const answers = await Promise.all(copies.concat(copies).map((e) => webhook(e)));
    for (const a of answers) assert.equal(a.status, 200, a.text);
    assert.equal(await balanced(u, 'repeated'), SIGNUP + credits, 'given back once');
    assert.equal(purchaseRows(p.id).length, 3);

    // a later refund of the rest takes what it refunds, no more
    const rest = await refund(sessionId);
    assert.deepEqual(rest.statuses, [200]);
    assert.equal(await balanced(u, 'the rest refunded'), SIGNUP + credits - taken(credits, price - part, price));
});

test('a refund that is not failed (succeeded, pending) changes nothing and is acknowledged as ignored', async () => {
    const { u, sessionId } = await bought('rev-refund-ok', 'starter');
    const r = await refund(sessionId);
    const re = r.events[0].data.object.refunds.data[0];
    const before = await balanced(u, 'refunded');
    for (const status of ['succeeded', 'pending', 'requires_action', 'canceled']) {
        const res = await webhook(stripeEvent('charge.refund.updated', { ...re, status }));
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json().ignored, true, status);
    }
    assert.equal(await balanced(u, 'after'), before);
});

test('a failed refund arriving before its charge.refunded, or before the grant, nets to nothing taken', async () => {
    const { credits, price } = pack('starter');
    // failure first, then the charge.refunded it undoes
    const a = await bought('rev-fail-first', 'starter');
    const r = await refund(a.sessionId, price, { send: false });
    const re = r.charge.refunds.data[0].id;
    const f = await failRefund(re, { types: ['refund.failed'] });
    assert.deepEqual(f.statuses, [200]);
    assert.deepEqual((await deliver([r.events[0].id])).statuses, [200]);
    assert.equal(await balanced(a.u, 'failure first'), SIGNUP + credits);

    // the session's completion last of all
    const u = await person('rev-fail-before-grant');
    const { sessionId } = await opened(u.jar, 'starter');
    const paid = await pay(sessionId, { send: false });
    const r2 = await refund(sessionId, undefined);
    await failRefund(r2.charge.refunds.data[0].id);
    assert.equal(await balanced(u, 'nothing paid yet'), SIGNUP);
    assert.deepEqual((await deliver([paid.events[0].id])).statuses, [200]);
    const p = purchaseBySession(sessionId);
    assert.equal(p.status, 'paid');
    assert.equal(await balanced(u, 'granted'), SIGNUP + credits, 'granted, the failed refund taking nothing');
    assert.deepEqual(purchaseRows(p.id), [['purchase', credits, null]]);
});

// ---- disputes -------------------------------------------------------------------------------

test('a dispute takes the payment\'s credits when opened (below zero if spent), lost keeps them taken', async () => {
    const { u, sessionId, p } = await bought('rev-dispute-lost', 'starter');
    const { credits } = pack('starter');
    setBalance(u.id, 30);                  // most of it spent
    const d = await dispute(sessionId);
    assert.deepEqual(d.events.map((e) => e.type), ['charge.dispute.created', 'charge.dispute.funds_withdrawn']);
    assert.deepEqual(d.statuses, [200, 200]);
    assert.equal(await balanced(u, 'disputed'), 30 - credits);
    const dp = d.dispute.id;
    assert.deepEqual(purchaseRows(p.id), [['purchase', credits, null], ['dispute', -credits, dp]]);

    const c = await closeDispute(dp, 'lost');
    assert.deepEqual(c.statuses, [200]);
    await deliver([...d.events, ...c.events].map((e) => e.id));
    assert.equal(await balanced(u, 'lost'), 30 - credits, 'taken once');
    assert.equal(purchaseRows(p.id).length, 2);
    assert.equal(psql(`SELECT "status" FROM "StripeDispute" WHERE "id" = ${lit(dp)}`), 'lost');
});

test('a dispute won gives the credits back, once, however often and in parallel Stripe says so', async () => {
    const { u, sessionId, p } = await bought('rev-dispute-won', 'plus');
    const { credits } = pack('plus');
    const d = await dispute(sessionId);
    assert.equal(await balanced(u, 'disputed'), SIGNUP);
    const c = await closeDispute(d.dispute.id, 'won');
    assert.deepEqual(c.events.map((e) => e.type), ['charge.dispute.closed', 'charge.dispute.funds_reinstated']);
    assert.deepEqual(c.statuses, [200, 200]);
    assert.equal(await balanced(u, 'won'), SIGNUP + credits);

    const won = c.events[0].data.object;
    const copies = [0, 1, 2, 3, 4, 5].map(() => stripeEvent('charge.dispute.closed', won));
    const answers = await Promise.all(copies.concat(copies).map((e) => webhook(e)));
    for (const a of answers) assert.equal(a.status, 200, a.text);
    // a late "created" (needs_response) does not reopen a closed dispute
    assert.equal((await webhook(stripeEvent('charge.dispute.created', d.events[0].data.object))).status, 200);
    assert.equal(await balanced(u, 'repeated'), SIGNUP + credits);
    assert.deepEqual(purchaseRows(p.id), [['purchase', credits, null], ['dispute', -credits, d.dispute.id],
        ['dispute_won', credits, d.dispute.id]]);
});

test('parallel first deliveries of a dispute take once', async () => {
    const { u, sessionId, p } = await bought('rev-dispute-parallel', 'starter');
    const d = await dispute(sessionId, { send: false });
    const obj = d.events[0].data.object;
    const events = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => stripeEvent(i % 2 ? 'charge.dispute.funds_withdrawn'
        : 'charge.dispute.created', obj));
    const answers = await Promise.all(events.concat(events).map((e) => webhook(e)));
    for (const a of answers) assert.equal(a.status, 200, a.text);
    assert.equal(await balanced(u, 'parallel'), SIGNUP);
    assert.equal(purchaseRows(p.id).length, 2);
});

test('an inquiry (warning_needs_response) takes nothing, nor its closing', async () => {
    const { u, sessionId } = await bought('rev-inquiry', 'starter');
    const { credits } = pack('starter');
    const d = await dispute(sessionId, { status: 'warning_needs_response' });
    assert.deepEqual(d.events.map((e) => e.type), ['charge.dispute.created']);
    assert.equal(await balanced(u, 'inquiry'), SIGNUP + credits);
    const c = await closeDispute(d.dispute.id, 'won');
    assert.equal(c.events[0].data.object.status, 'warning_closed');
    assert.equal(await balanced(u, 'inquiry closed'), SIGNUP + credits);
});

test('disputes out of order: closed before created, and a dispute before the grant', async () => {
    const { credits, price } = pack('starter');
    // lost arrives first: taken once; a late created changes nothing
    const a = await bought('rev-dispute-order', 'starter');
    const d = await dispute(a.sessionId, { send: false });
    const c = await closeDispute(d.dispute.id, 'lost', { send: false });
    assert.deepEqual((await deliver([c.events[0].id, d.events[1].id, d.events[0].id])).statuses, [200, 200, 200]);
    assert.equal(await balanced(a.u, 'lost first'), SIGNUP);
    assert.equal(purchaseRows(a.p.id).length, 2);

    // won arrives first: nothing is ever taken
    const b = await bought('rev-dispute-won-first', 'starter');
    const d2 = await dispute(b.sessionId, { send: false });
    const c2 = await closeDispute(d2.dispute.id, 'won', { send: false });
    await deliver([...c2.events, ...d2.events].map((e) => e.id));
    assert.equal(await balanced(b.u, 'won first'), SIGNUP + credits);
    assert.deepEqual(purchaseRows(b.p.id), [['purchase', credits, null]]);

    // a dispute of half the payment before the session's completion
    const u = await person('rev-dispute-before-grant');
    const { sessionId } = await opened(u.jar, 'starter');
    const paid = await pay(sessionId, { send: false });
    const half = Math.floor(price / 2);
    await dispute(sessionId, { amount: half });
    assert.equal(await balanced(u, 'not paid yet'), SIGNUP);
    await deliver([paid.events[0].id]);
    const p = purchaseBySession(sessionId);
    assert.equal(await balanced(u, 'granted'), SIGNUP + credits - taken(credits, half, price));
    assert.deepEqual(purchaseRows(p.id).map((r) => r[0]), ['purchase', 'dispute']);
});

test('a dispute and refunds together never take more than the pack', async () => {
    const { u, sessionId, p } = await bought('rev-dispute-refund', 'plus');
    const { credits, price } = pack('plus');
    const part = Math.floor(price / 2);
    await refund(sessionId, part);
    await dispute(sessionId, { amount: price });
    assert.equal(await balanced(u, 'refunded and disputed'), SIGNUP, 'the pack once, not more');
    assert.equal(Number(purchase(p.id).creditsTakenBack), credits);

    // half disputed, then a quarter refunded: the refund's row is a
    // chargeback of the refund's share
    const v = await bought('rev-dispute-then-refund', 'plus');
    const half = Math.floor(price / 2);
    const quarter = Math.floor(price / 4);
    const d = await dispute(v.sessionId, { amount: half });
    await refund(v.sessionId, quarter);
    assert.equal(await balanced(v.u, 'disputed then refunded'), SIGNUP + credits - taken(credits, half + quarter, price));
    assert.deepEqual(purchaseRows(v.p.id), [['purchase', credits, null], ['dispute', -taken(credits, half, price), d.dispute.id],
        ['chargeback', -(taken(credits, half + quarter, price) - taken(credits, half, price)), null]]);
});

test('refund and dispute objects without what billing needs are 400; of no payment intent, ignored', async () => {
    for (const [type, obj] of [['charge.refund.updated', { object: 'refund', status: 'failed', amount: 5 }],
        ['refund.failed', { id: rid('re_'), object: 'refund', status: 'failed', amount: 'lots' }],
        ['charge.dispute.created', { id: rid('dp_'), object: 'dispute', amount: 5 }],
        ['charge.dispute.closed', { id: rid('dp_'), object: 'dispute', status: 'lost', amount: -1 }]]) {
        const res = await webhook(stripeEvent(type, obj));
        assert.equal(res.status, 400, `${type}: ${res.text}`);
        assert.equal(res.json().error, 'invalid_event');
    }
    const none = await webhook(stripeEvent('charge.dispute.created',
        { id: rid('dp_'), object: 'dispute', status: 'needs_response', amount: 5, payment_intent: null }));
    assert.equal(none.status, 200, none.text);
    assert.equal(none.json().ignored, true);
});

test('parallel deliveries of two partial refunds, their repeats and a failure of one settle as if one after the other', async () => {
    const { u, sessionId, p } = await bought('rev-parallel-refunds', 'plus');
    const { credits, price } = pack('plus');
    const a = Math.floor(price / 4);
    const b = Math.floor(price / 3);
    const r1 = await refund(sessionId, a, { send: false });
    const r2 = await refund(sessionId, b, { send: false });
    const f = await failRefund(r1.charge.refunds.data[0].id, { types: ['refund.failed'], send: false });
    const events = [r1.events[0], r2.events[0], f.events[0]];
    const answers = await Promise.all([...events, ...events, ...events].map((e, i) =>
        (i % 2 ? webhook(e) : deliver([e.id]).then((d) => ({ status: d.statuses[0], text: '' })))));
    for (const x of answers) assert.equal(x.status, 200, x.text);
    assert.equal(await balanced(u, 'parallel'), SIGNUP + credits - taken(credits, b, price),
        'only the refund that did not fail is taken');
    assert.equal(Number(purchase(p.id).creditsTakenBack), taken(credits, b, price));
});
