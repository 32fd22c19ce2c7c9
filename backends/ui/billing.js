/* The billing page (/billing): the balance, the packs for sale with a
 * Buy button each (Stripe Checkout), the ledger in pages and its CSV.
 * Plain JavaScript, no build step; nothing inline (CSP), user text only
 * as text.  The page's <main data-nb-billing data-purchases="on|off">
 * says whether anything is for sale. */

import { Balance, when, pageUser, checkedDownload } from './module.js';

const LEDGER_PAGE = 20;
const POLL_MS = 1000;           /* after Stripe sent the buyer back */
const POLL_FOR_MS = 60000;

const REASONS = {
    signup: 'Sign-up credits',
    debit: 'Generation',
    refund: 'Generation refunded',
    purchase: 'Credits bought',
    chargeback: 'Payment refunded',
    refund_failed: 'Refund failed: credits back',
    dispute: 'Payment disputed',
    dispute_won: 'Dispute won: credits back',
    adjustment: 'Adjustment',
    grant: 'Granted',
};

const $ = (sel) => document.querySelector(sel);

/* A module's title ("Wan 2.5" for wan-2.5) as the header's module nav
 * names it (nano_page_header, from the registry); its name otherwise. */
function moduleTitle(name) {
    const a = [...document.querySelectorAll('header .nb-nav a')]
        .find((x) => x.getAttribute('href').replace(/^\/|\/$/g, '') === name);
    return a ? a.textContent : name;
}

/* A same-origin JSON call: {status, body} (body null when not JSON);
 * a network failure throws.  It names the page's account (X-Nano-User,
 * as module.js's call does): after another account signed in in another
 * tab, Load more appended that account's ledger here and Buy bought
 * credits for it. */
async function api(path, { method = 'GET', body } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const user = pageUser();
    if (user) headers['X-Nano-User'] = user;
    const res = await fetch(path, {
        method, headers, credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch { /* not JSON */ }
    return { status: res.status, body: data };
}

function credits(n) {
    const abs = Math.abs(n).toLocaleString();
    return `${n < 0 ? '-' : ''}${abs} credit${Math.abs(n) === 1 ? '' : 's'}`;
}

function signed(n) {
    return `${n > 0 ? '+' : n < 0 ? '-' : ''}${Math.abs(n).toLocaleString()}`;
}

/* A price in a currency's minor unit (499 usd) as people read it. */
function money(minor, currency) {
    const cur = String(currency).toUpperCase();
    try {
        const digits = new Intl.NumberFormat('en', { style: 'currency', currency: cur })
            .resolvedOptions().maximumFractionDigits;
        return new Intl.NumberFormat(undefined, { style: 'currency', currency: cur })
            .format(minor / 10 ** digits);
    } catch {
        return `${minor} ${cur}`;
    }
}

function el(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
        if (k === 'text') e.textContent = v;
        else if (k === 'class') e.className = v;
        else e.setAttribute(k, v);
    }
    e.append(...children);
    return e;
}

/* What a failed call means, in words (a list of text and links, for
 * replaceChildren); body is our {"error","message"}.  A session that
 * ended links to the sign-in page, which brings the person back here. */
function explain(res, what) {
    const b = res.body || {};
    if (b.error === 'session_changed') {
        return ['Another account signed in, in another tab or window, since this page was opened. Reload the page to continue as that account.',
            ' ', el('a', { href: '/billing', text: 'Reload' })];
    }
    if (res.status === 401) {
        return ['Your session has ended. Sign in again to continue.',
            ' ', el('a', { href: '/api/auth/signin?callbackUrl=%2Fbilling', text: 'Sign in' })];
    }
    if (res.status === 403) return ['The request was refused as coming from another site. Reload this page and try again.'];
    if (res.status === 429) return ['Too many requests just now. Wait a moment and try again.'];
    if (b.error === 'billing_disabled') return ['Purchases are not configured on this site.'];
    if (b.message) return [`Could not ${what}: ${b.message}.`];
    return [`Could not ${what} (the server answered ${res.status}). Try again in a moment.`];
}

/* ---- balance ---------------------------------------------------------------- */

const balance = {
    value: null,
    show(n) {
        this.value = n;
        const text = credits(n);
        const amount = $('[data-nbb-balance]');
        amount.textContent = text;
        amount.classList.toggle('nbb-below-zero', n < 0);
        $('[data-nbb-negative]').hidden = n >= 0;
    },
};

/* the header's chip, as on the other pages: fetched again when the tab
 * comes back (another tab may have spent), and the figure here follows */
const header = new Balance();
header.onChange((n) => balance.show(n));

/* ---- ledger ----------------------------------------------------------------- */

const ledger = {
    cursor: null,
    busy: false,
    seq: 0,
    /* One page at a time: Load more pressed twice before its page came (a
     * double click, or Load more beside a Try again) asked for the same
     * cursor twice and showed the page twice.  A first page read again
     * (a purchase paid) outdates a page still on its way. */
    async load(more = false, pressed = false) {
        if (more && this.busy) return null;
        const seq = ++this.seq;
        this.busy = true;
        try {
            return await this.read(more, pressed, seq);
        } finally {
            if (seq === this.seq) this.busy = false;
        }
    },
    async read(more, pressed, seq) {
        const q = new URLSearchParams({ limit: String(LEDGER_PAGE) });
        if (more && this.cursor) q.set('cursor', this.cursor);
        const errorEl = $('[data-nbb-ledger-error]');
        const moreButton = $('[data-nbb-more]');
        /* Load more or Try again pressed from the keyboard: the button is
         * hidden or replaced below, which drops the focus to the body */
        const had = pressed || document.activeElement === moreButton;
        const keep = (target) => {
            const now = document.activeElement;
            if (had && (!now || now === document.body || !now.isConnected || now.hidden)) {
                if (!target.matches('button, a') && !target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
                target.focus();
            }
        };
        let res;
        /* the words, and a way to ask again without a reload (the page
         * had none: a first page that failed left the ledger empty) */
        const failed = (...said) => {
            const again = el('button', { type: 'button', class: 'nbm-button-quiet', text: 'Try again' });
            again.addEventListener('click', () => {
                const focused = document.activeElement === again;
                errorEl.textContent = '';
                this.load(more, focused);
            });
            errorEl.replaceChildren(...said, ' ', again);
            keep(again);
            return null;
        };
        try {
            res = await api(`/api/credits?${q}`);
        } catch {
            return seq === this.seq ? failed('The ledger could not be loaded: the network seems down.') : null;
        }
        if (seq !== this.seq) return null;
        if (res.status !== 200 || !res.body) {
            return failed(...explain(res, 'load the ledger'));
        }
        errorEl.textContent = '';
        header.show(res.body.balance);
        const rows = $('[data-nbb-rows]');
        if (!more) rows.replaceChildren();
        for (const r of res.body.ledger) rows.append(this.row(r));
        if (!more && res.body.ledger.length === 0) {
            rows.append(el('tr', {}, el('td', { colspan: '4', class: 'nbm-muted', text: 'Nothing yet.' })));
        }
        this.cursor = res.body.nextCursor || null;
        moreButton.hidden = !this.cursor;
        /* at the end of the ledger: its heading, just above what was read */
        keep(this.cursor ? moreButton : $('#nbb-ledger-title'));
        return res.body;
    },
    row(r) {
        /* titles and dates as the dashboard and module pages show them */
        const module = r.module
            ? el('a', { href: `/${r.module}/`, text: moduleTitle(r.module) })
            : el('span', { class: 'nbm-muted', text: '—' });
        const delta = el('td', { class: `nbb-num ${r.delta < 0 ? 'nbb-minus' : 'nbb-plus'}`, text: signed(r.delta) });
        return el('tr', { 'data-reason': r.reason },
            el('td', {}, el('time', { datetime: r.createdAt, text: when(r.createdAt) })),
            el('td', { text: REASONS[r.reason] || r.reason }),
            el('td', {}, module),
            delta);
    },
};

/* ---- packs ------------------------------------------------------------------ */

async function buy(pack, buttons) {
    const errorEl = $('[data-nbb-buy-error]');
    errorEl.textContent = '';
    const button = buttons.find((b) => b.dataset.pack === pack.id);
    /* a disabled button drops the focus to the body: it comes back below */
    const had = document.activeElement === button;
    for (const b of buttons) b.disabled = true;
    const label = button.textContent;
    button.textContent = 'Opening checkout…';
    let res;
    try {
        res = await api('/api/billing/checkout', { method: 'POST', body: { pack: pack.id } });
    } catch {
        res = null;
    }
    if (res && res.status === 200 && res.body && typeof res.body.url === 'string'
        && /^https?:\/\//.test(res.body.url)) {
        window.location.assign(res.body.url);
        return;
    }
    errorEl.replaceChildren(...(res ? explain(res, 'start the checkout')
        : ['Could not start the checkout: the network seems down.']));
    button.textContent = label;
    for (const b of buttons) b.disabled = false;
    if (had && (!document.activeElement || document.activeElement === document.body)) button.focus();
}

async function loadPacks() {
    const list = $('[data-nbb-packs]');
    let res;
    try {
        res = await api('/api/billing/packs');
    } catch {
        res = { status: 0, body: null };
    }
    if (res.status !== 200 || !Array.isArray(res.body)) {
        $('[data-nbb-buy-error]').replaceChildren(...(res.status
            ? explain(res, 'load the packs') : ['The packs could not be loaded: the network seems down.']));
        return;
    }
    if (res.body.length === 0) {
        $('[data-nbb-off]').hidden = false;
        return;
    }
    const buttons = [];
    for (const p of res.body) {
        const price = money(p.price, p.currency);
        const button = el('button', {
            type: 'button', class: 'nb-button', 'data-pack': p.id,
            /* the name begins with the words shown, so a voice
             * user's "click Buy for …" finds it (WCAG 2.5.3) */
            'aria-label': `Buy for ${price}: ${p.label}`, text: `Buy for ${price}`,
        });
        button.addEventListener('click', () => buy(p, buttons));
        buttons.push(button);
        list.append(el('li', { class: 'nbb-pack' },
            el('strong', { class: 'nbb-pack-label', text: p.label }),
            el('span', { class: 'nbb-pack-credits', text: credits(p.credits) }),
            el('span', { class: 'nbb-pack-price', text: price }),
            button));
    }
    $('[data-nbb-fine]').hidden = false;
}

/* ---- coming back from Stripe ------------------------------------------------ */

function notice(text, kind = 'info') {
    const n = $('[data-nbb-notice]');
    n.textContent = text;
    n.dataset.kind = kind;
    n.hidden = false;
}

/* After a checkout: the credits arrive with Stripe's signed webhook,
 * usually within seconds; watch the purchase (by the session id Stripe
 * put in the return URL) until it is paid, failed or expired. */
async function awaitCredits(session) {
    notice('Payment received. Your credits arrive in a moment…');
    const end = Date.now() + POLL_FOR_MS;
    let last = null;
    while (Date.now() < end) {
        let res = null;
        try {
            res = await api(`/api/billing/checkout/${encodeURIComponent(session)}`);
        } catch { /* keep polling */ }
        last = res && res.status === 200 && res.body ? res.body.status : last;
        if (last === 'paid') {
            notice(`Payment received: ${credits(res.body.credits)} added to your balance.`, 'done');
            await ledger.load();
            return;
        }
        if (last === 'failed' || last === 'expired') {
            notice(last === 'failed' ? 'The payment failed; nothing was added and nothing was charged.'
                : 'The checkout expired before it was paid; nothing was charged.', 'wait');
            return;
        }
        if (res && res.status === 404) break;
        await new Promise((r) => setTimeout(r, POLL_MS));
    }
    notice(last === 'unpaid'
        ? 'Your payment is on its way. The credits appear here as soon as Stripe confirms it; there is no need to pay again.'
        : 'Stripe has not confirmed the payment yet. Your credits will appear here as soon as it does; there is no need to pay again.', 'wait');
}

async function main() {
    const root = $('[data-nb-billing]');
    if (!root) return;
    const params = new URLSearchParams(window.location.search);
    const checkout = params.get('checkout');
    if (checkout) {
        /* the notice is shown once: a reload shows the plain page */
        history.replaceState(null, '', '/billing');
    }
    /* Download CSV asks first whether this page's account is still the
     * one signed in, and the CSV's HEAD whether it would be written now
     * (checkedDownload); what went wrong shows under the ledger */
    checkedDownload($('.nbb-csv'), (e) => {
        const errorEl = $('[data-nbb-ledger-error]');
        if (!e) {
            errorEl.replaceChildren();
            return true;
        }
        if (e.status === 0) {
            errorEl.replaceChildren('The CSV could not be downloaded: the network seems down.');
        } else if (e.status === 429) {
            /* one CSV at a time per user (export_in_progress), or the
             * platform writing as many downloads as it takes: a HEAD's
             * refusal does not say which */
            errorEl.replaceChildren('The CSV could not be downloaded just now: one of yours is still being written, or too many downloads are being written at the moment. Wait for yours to finish, then try again in a few seconds.');
        } else {
            /* the refusal as api() gives it, for this page's words */
            const res = { status: e.status, body: { error: e.code, message: e.detail } };
            errorEl.replaceChildren(...explain(res, 'download the CSV'));
        }
        return false;
    }, { head: true });
    await ledger.load();
    $('[data-nbb-more]').addEventListener('click', () => ledger.load(true));
    if (root.dataset.purchases === 'on') {
        await loadPacks();
    } else {
        $('[data-nbb-off]').hidden = false;
    }
    const session = params.get('session_id');
    if (checkout === 'success' && session && /^cs_[A-Za-z0-9_]+$/.test(session)) {
        awaitCredits(session);
    } else if (checkout === 'success') {
        notice('Payment received. Your credits appear in the ledger once Stripe confirms it.');
    } else if (checkout === 'cancel') {
        notice('Checkout canceled: nothing was charged.');
    }
}

main();
