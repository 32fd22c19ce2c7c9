/* The dashboard (GET / when signed in): one call, GET /api/dashboard,
 * fills the balance, the modules grid, the recent activity, the usage
 * chart the server drew (an SVG document, parsed, never run as markup)
 * and the table of the same numbers.  Plain ES module, no build step;
 * user text only ever goes in as text. */

import { h, callJSON, creditsText, when, safeUrl, explain, showError, Balance } from './module.js';

const KIND_WORDS = { image: 'Images', text: 'Text', video: 'Video' };
const STATUS_WORDS = {
    queued: 'Queued', running: 'Generating', succeeded: 'Done', failed: 'Failed', canceled: 'Canceled',
};
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (sel) => document.querySelector(sel);

/* "Nov 3" for "2026-11-03", in UTC as the server counted. */
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const dayText = (iso) => dayFmt.format(Date.parse(`${iso}T00:00:00Z`));

function showBalance(balance) {
    const el = $('[data-nbd-balance]');
    const note = $('[data-nbd-balance-note]');
    el.replaceChildren(creditsText(balance));
    el.classList.toggle('nbd-negative', balance < 0);
    note.hidden = balance >= 0;
    if (balance < 0) {
        note.replaceChildren('Your balance is below zero after a payment was refunded. ',
            h('a', { href: '/billing', text: 'Buy credits' }), ' to generate again.');
    }
}

function priceText(models) {
    if (!models.length) return 'No price set';
    const costs = models.map((m) => Number(m.cost));
    const lo = Math.min(...costs);
    const hi = Math.max(...costs);
    return lo === hi ? `${creditsText(lo)} each` : `${lo}–${creditsText(hi)} each`;
}

function showModules(modules) {
    const list = $('[data-nbd-modules]');
    list.replaceChildren(...modules.map((m) => {
        const badge = m.offline === true
            ? h('span', { class: 'nbm-badge nbm-badge-offline', text: 'Offline provider' })
            : m.offline === false
                ? h('span', { class: 'nbm-badge nbm-badge-succeeded', text: `Real provider · ${m.provider}` })
                : h('span', { class: 'nbm-badge nbm-badge-canceled', text: 'Not started yet' });
        return h('li', { class: 'nbd-module', 'data-module': m.name },
            h('a', { class: 'nbd-module-link', href: `${m.path}/` },
                h('strong', { class: 'nbd-module-title', text: m.title }),
                h('span', { class: 'nbd-module-kind', text: KIND_WORDS[m.kind] || m.kind })),
            h('p', { class: 'nbd-module-price', text: priceText(m.models || []) }),
            m.models && m.models.length > 1
                ? h('ul', { class: 'nbd-module-models' }, m.models.map((x) => h('li', { text: `${x.label}: ${creditsText(x.cost)}` })))
                : null,
            badge);
    }));
    list.removeAttribute('aria-busy');
}

function showRecent(recent) {
    const list = $('[data-nbd-recent]');
    list.replaceChildren(...recent.map((g) => {
        const href = safeUrl(g.url) || '/';
        const thumb = g.thumb && safeUrl(g.thumb);
        const words = g.prompt || '(no prompt)';
        return h('li', { class: 'nbd-item', 'data-id': g.id, 'data-module': g.module },
            h('a', { class: 'nbd-item-link', href },
                thumb
                    ? h('img', { class: 'nbd-thumb', src: thumb, alt: '', loading: 'lazy', width: 64, height: 64 })
                    : h('span', { class: `nbd-thumb nbd-thumb-${g.kind}`, 'aria-hidden': 'true', text: (KIND_WORDS[g.kind] || '?').slice(0, 1) }),
                h('span', { class: 'nbd-item-text' },
                    h('strong', { text: g.title }),
                    h('span', { class: 'nbd-item-prompt', dir: 'auto', text: words }),
                    h('span', { class: 'nbm-muted' }, h('time', { datetime: g.createdAt, text: when(g.createdAt) })))),
            h('span', { class: `nbm-badge nbm-badge-${g.status === 'queued' || g.status === 'running' ? 'running' : g.status}`, text: STATUS_WORDS[g.status] || g.status }));
    }));
    list.removeAttribute('aria-busy');
    $('[data-nbd-recent-empty]').hidden = recent.length > 0;
}

/* The server's SVG, parsed as XML and adopted: nothing in it runs. */
function showChart(svgText) {
    const fig = $('[data-nbd-chart]');
    const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
    const svg = doc.documentElement;
    if (svg.namespaceURI !== SVG_NS || svg.localName !== 'svg' || doc.querySelector('parsererror')) {
        fig.replaceChildren(h('p', { class: 'nbm-muted', text: 'The chart could not be shown; the table below has the numbers.' }));
        return;
    }
    fig.replaceChildren(document.importNode(svg, true));
}

/* The accessible fallback: a row per day, a column per module, totals. */
function showTable(usage, modules) {
    const titles = Object.fromEntries(modules.map((m) => [m.name, m.title]));
    const names = usage.modules;
    const total = (i) => names.reduce((s, n) => s + Number(usage.series[n][i] || 0), 0);
    const table = h('table', { class: 'nbd-usage-table' },
        h('caption', { text: `Credits spent per day (UTC), ${usage.days[0]} to ${usage.days.at(-1)}` }),
        h('thead', {}, h('tr', {},
            h('th', { scope: 'col', text: 'Day' }),
            names.map((n) => h('th', { scope: 'col', text: titles[n] || n })),
            h('th', { scope: 'col', text: 'Total' }))),
        h('tbody', {}, usage.days.map((d, i) => h('tr', {},
            h('th', { scope: 'row' }, h('time', { datetime: d, text: dayText(d) })),
            names.map((n) => h('td', { text: String(usage.series[n][i]) })),
            h('td', { text: String(total(i)) })))));
    $('[data-nbd-table]').replaceChildren(table);
}

/* the header's chip, as the module pages have it; fetched again when
 * the tab comes back, and this page's figure follows it */
const balance = new Balance();
balance.onChange(showBalance);

async function start() {
    const err = $('[data-nbd-error]');
    let d;
    try {
        d = await callJSON('/api/dashboard');
    } catch (e) {
        showError(err, explain(e));
        err.append(' ', h('button', { type: 'button', class: 'nbm-button-quiet', text: 'Try again', onclick: () => { showError(err, null); start(); } }));
        return;
    }
    /* "Welcome back" once the user has made something: the page has no
     * account age, and an account without generations (a new one, or one
     * that deleted them all) has nothing to come back to yet */
    $('[data-nbd-greeting]').textContent = d.recent.length ? 'Welcome back' : 'Welcome';
    balance.show(d.balance);
    showModules(d.modules);
    showRecent(d.recent);
    showChart(d.chart);
    showTable(d.usage, d.modules);
    document.body.dataset.nbdReady = 'true';
}

if (document.querySelector('[data-nb-dashboard]')) start();
