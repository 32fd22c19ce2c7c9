// The dashboard of issue 7 (docs/PLATFORM.md "Dashboard"): GET
// /api/dashboard for a new user (balance, every module of the registry
// with its prices from "ModelPrice" and its provider from "ModuleStatus",
// nothing recent, 30 empty UTC days) and for one who generated through
// the real modules (the fake providers and the offline ones): recent
// activity newest first with thumbnails that load, credits spent per day
// and module (debits less refunds) from those generations and from
// ledger rows written with psql for past days (the window's edges, other
// reasons, another user); the SVG chart parsed as XML with each bar's
// height matching the series; a negative balance; the 12 most recent of
// many; 401 without a session; the page at / for signed-in and
// signed-out visitors; the shared header's account links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REGISTRY, MODULES, get, isHtml, Jar, jwt, claims, SESSION_COOKIE } from './lib.mjs';
import {
    psql, lit, person, generate, waitFor, setBalance, tag,
} from './generations.mjs';

const has = (name) => REGISTRY.some((m) => m.name === name);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const dashboard = (jar) => get('/api/dashboard', { headers: jar.headers() });

async function dash(jar) {
    const res = await dashboard(jar);
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'], /^application\/json/);
    return res.json();
}

// The 30 UTC days ending today, as the API names them.
function windowDays() {
    const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
    return Array.from({ length: 30 }, (_, i) => new Date(today - (29 - i) * 86400000).toISOString().slice(0, 10));
}

// ---- a strict little XML reader: enough to prove the SVG well-formed ----

const ENTITIES = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function unescapeXml(s, where) {
    return s.replace(/&([^;]*);/g, (m, e) => {
        if (ENTITIES[e]) return ENTITIES[e];
        if (/^#\d+$/.test(e)) return String.fromCodePoint(Number(e.slice(1)));
        if (/^#x[0-9a-f]+$/i.test(e)) return String.fromCodePoint(parseInt(e.slice(2), 16));
        throw new Error(`unknown entity ${m} in ${where}`);
    });
}

// parseXml(text) -> root {name, attrs, children, text}; throws on
// anything that is not well-formed (unclosed or crossed tags, a bare & or
// <, unquoted or repeated attributes, text outside the root).
function parseXml(text) {
    let i = 0;
    const stack = [];
    let root = null;
    const fail = (why) => { throw new Error(`not well-formed XML at ${i}: ${why}: ${text.slice(Math.max(0, i - 40), i + 40)}`); };
    while (i < text.length) {
        if (text[i] !== '<') {
            const j = text.indexOf('<', i);
            const chunk = text.slice(i, j < 0 ? text.length : j);
            if (/&(?![a-z]+;|#\d+;|#x[0-9a-f]+;)/i.test(chunk)) fail('a bare &');
            if (stack.length === 0 && chunk.trim()) fail('text outside the root');
            if (stack.length) stack.at(-1).text += unescapeXml(chunk, 'text');
            i = j < 0 ? text.length : j;
            continue;
        }
        if (text.startsWith('</', i)) {
            const m = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(text.slice(i));
            if (!m) fail('a bad end tag');
            const open = stack.pop();
            if (!open || open.name !== m[1]) fail(`</${m[1]}> closes ${open ? `<${open.name}>` : 'nothing'}`);
            i += m[0].length;
            continue;
        }
        const m = /^<([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*"[^"<]*")*)\s*(\/?)>/.exec(text.slice(i));
        if (!m) fail('a bad start tag');
        const el = { name: m[1], attrs: {}, children: [], text: '' };
        for (const a of m[2].matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*"([^"]*)"/g)) {
            if (a[1] in el.attrs) fail(`attribute ${a[1]} twice`);
            el.attrs[a[1]] = unescapeXml(a[2], `attribute ${a[1]}`);
        }
        if (stack.length) stack.at(-1).children.push(el);
        else if (root) fail('a second root');
        else root = el;
        if (!m[3]) stack.push(el);
        i += m[0].length;
    }
    if (stack.length) fail(`<${stack.at(-1).name}> left open`);
    if (!root) fail('no root');
    return root;
}

function* walk(el) {
    yield el;
    for (const c of el.children) yield* walk(c);
}

// Checks the chart against the usage: one rect per non-zero value, its
// height value * plot height / scale top, the stack of each day from the
// axis up in the order of usage.modules.  Returns the parsed root.
function assertChart(d) {
    const svg = parseXml(d.chart);
    assert.equal(svg.name, 'svg');
    assert.equal(svg.attrs.xmlns, 'http://www.w3.org/2000/svg');
    assert.equal(svg.attrs.role, 'img');
    assert.ok(svg.attrs['aria-label'].length > 10, 'an aria-label');
    const title = svg.children.find((c) => c.name === 'title');
    assert.ok(title && title.text === svg.attrs['aria-label'], 'a <title> saying what the label says');
    const top = Number(svg.attrs['data-scale-top']);
    const plot = Number(svg.attrs['data-plot-height']);
    assert.ok(top > 0 && plot > 0);
    const rects = [...walk(svg)].filter((e) => e.name === 'rect' && e.attrs['data-value'] !== undefined);
    const expected = [];
    d.usage.days.forEach((day, i) => {
        for (const m of d.usage.modules) {
            if (d.usage.series[m][i] > 0) expected.push(`${m}@${i}=${d.usage.series[m][i]}`);
        }
    });
    assert.deepEqual(rects.map((r) => `${r.attrs['data-series']}@${r.attrs['data-bar']}=${r.attrs['data-value']}`).sort(),
        expected.sort(), 'a rect for each non-zero value of the series, and no other');
    let base = null;
    const tops = new Map();
    for (const r of rects) {
        const v = Number(r.attrs['data-value']);
        const y = Number(r.attrs.y);
        const hgt = Number(r.attrs.height);
        assert.ok(Math.abs(hgt - (v * plot) / top) < 0.01, `height ${hgt} for ${v} (top ${top}, plot ${plot})`);
        assert.match(r.attrs.fill, /^#[0-9a-f]{6}$/);
        assert.match(r.attrs.class, /^nb-chart-c[1-8]$/);
        const bar = r.attrs['data-bar'];
        const below = tops.get(bar);
        if (below === undefined) {
            base ??= y + hgt;
            assert.ok(Math.abs(y + hgt - base) < 0.01, 'the lowest layer stands on the axis');
        } else {
            assert.ok(Math.abs(y + hgt - below) < 0.01, 'each layer sits on the one below');
        }
        tops.set(bar, y);
    }
    // the tallest stack fits under the scale's top
    const maxDay = Math.max(0, ...d.usage.days.map((_, i) => d.usage.modules.reduce((s, m) => s + Math.max(0, d.usage.series[m][i]), 0)));
    assert.ok(maxDay <= top, `the largest day (${maxDay}) fits under the top (${top})`);
    return svg;
}

// ---- tests -----------------------------------------------------------------

test('GET /api/dashboard: 401 without a session, a foreign token or a revoked one', async () => {
    const anon = await get('/api/dashboard', { headers: { Accept: 'application/json' } });
    assert.equal(anon.status, 401);
    assert.equal(anon.json().error, 'unauthorized');
    const forged = new Jar();
    forged.set(SESSION_COOKIE, jwt(claims(), { key: 'another-key-that-is-long-enough-0123456789' }));
    assert.equal((await dashboard(forged)).status, 401);
    const u = await person('dash-revoked');
    const t0 = Date.now();
    psql(`INSERT INTO "SessionCutoff" ("userId", "notBefore") VALUES (${lit(u.id)}, ${Math.floor(Date.now() / 1000) + 1})`);
    let status;
    do {
        status = (await dashboard(u.jar)).status;
    } while (status !== 401 && Date.now() - t0 < 3000);
    assert.equal(status, 401, 'a cut-off session is refused');
});

test('a new user: balance 100, every module with its prices and provider, nothing recent, 30 empty days', async () => {
    const u = await person('dash-new');
    const d = await dash(u.jar);
    assert.deepEqual(Object.keys(d).sort(), ['balance', 'chart', 'modules', 'recent', 'usage']);
    assert.equal(d.balance, 100);
    assert.deepEqual(d.recent, []);

    assert.deepEqual(d.modules.map((m) => m.name), MODULES, 'the registry, in its order');
    const prices = JSON.parse(psql(`SELECT json_agg(json_build_object('module', "module", 'id', "model",
        'label', "label", 'cost', "credits") ORDER BY "module", "sort", "model") FROM "ModelPrice"`));
    const status = JSON.parse(psql(`SELECT coalesce(json_object_agg("module", json_build_object('provider', "provider",
        'offline', "offline")), '{}') FROM "ModuleStatus"`));
    for (const m of d.modules) {
        const reg = REGISTRY.find((r) => r.name === m.name);
        assert.deepEqual(Object.keys(m).sort(), ['kind', 'models', 'name', 'offline', 'path', 'provider', 'title']);
        assert.equal(m.title, reg.title);
        assert.equal(m.kind, reg.kind);
        assert.equal(m.path, `/${m.name}`);
        assert.deepEqual(m.models, prices.filter((p) => p.module === m.name).map(({ id, label, cost }) => ({ id, label, cost })),
            `${m.name}: the models and costs of "ModelPrice"`);
        assert.ok(status[m.name], `${m.name} reported its status at start`);
        assert.equal(m.provider, status[m.name].provider);
        assert.equal(m.offline, status[m.name].offline);
    }
    // the test stack: seedream and openai have no key, the others the fake
    if (has('seedream')) assert.equal(d.modules.find((m) => m.name === 'seedream').offline, true);
    if (has('nano-banana')) assert.equal(d.modules.find((m) => m.name === 'nano-banana').offline, false);

    assert.deepEqual(d.usage.days, windowDays());
    assert.deepEqual(d.usage.modules, []);
    assert.deepEqual(d.usage.series, {});
    const svg = assertChart(d);
    assert.ok([...walk(svg)].some((e) => e.name === 'text' && /No credits spent/.test(e.text)), 'the empty chart says so');
});

test('generations through the modules and ledger rows of past days: recent activity, usage per day and module, the chart', async () => {
    const u = await person('dash-busy');
    const other = await person('dash-other');
    const t = tag();
    const made = [];          // [module, id], oldest first
    const spent = {};         // module -> credits spent today
    const add = (m, n) => { spent[m] = (spent[m] || 0) + n; };

    if (has('nano-banana')) {
        const r = await generate(u.jar, 'nano-banana', { prompt: `dashboard banana ${t}` });
        assert.equal(r.status, 202, r.text);
        const g = await waitFor(u.jar, 'nano-banana', r.json().id);
        assert.equal(g.status, 'succeeded');
        made.push(['nano-banana', g.id]);
        add('nano-banana', g.cost);
        // one that fails at the provider: debited, then refunded
        const f = await generate(u.jar, 'nano-banana', { prompt: `dashboard refund ${t} [fake:bad-request]` });
        assert.equal(f.status, 202, f.text);
        const fg = await waitFor(u.jar, 'nano-banana', f.json().id);
        assert.equal(fg.status, 'failed');
        made.push(['nano-banana', fg.id]);
    }
    if (has('seedream')) {
        const r = await generate(u.jar, 'seedream', { prompt: `dashboard <seedream> & "co" ${t}` });
        assert.equal(r.status, 202, r.text);
        const g = await waitFor(u.jar, 'seedream', r.json().id);
        assert.equal(g.status, 'succeeded');
        made.push(['seedream', g.id]);
        add('seedream', g.cost);
    }
    if (has('qwen')) {
        const r = await generate(u.jar, 'qwen', { prompt: `dashboard question ${t}` });
        assert.equal(r.status, 200, r.text);
        made.push(['qwen', r.json().id]);
        add('qwen', r.json().cost);
    }
    // the other user's work is never in this user's dashboard
    if (has('qwen')) assert.equal((await generate(other.jar, 'qwen', { prompt: `not yours ${t}` })).status, 200);

    // past days, by psql: the window's first day, a refund, reasons that
    // are not spending, a row without a module, one a day too old
    const days = windowDays();
    const at = (daysAgo, h = 12) => `(date_trunc('day', now() AT TIME ZONE 'utc') - interval '${daysAgo} days' + interval '${h} hours')`;
    const ins = (user, delta, reason, module, when, gen = null) => `(${lit(user)}, ${delta}, ${lit(reason)}, ${module ? lit(module) : 'NULL'}, ${when}, ${gen ? lit(gen) : 'NULL'})`;
    // a refund counts on its debit's day (one past midnight showed as
    // spending below zero), and not at all for a debit before the window
    const late = `late-refund-${t}`, old = `old-refund-${t}`;
    psql(`INSERT INTO "CreditLedger" ("userId", "delta", "reason", "module", "createdAt", "generationId") VALUES
        ${ins(u.id, -4, 'debit', 'openai', at(8, 23), late)},
        ${ins(u.id, 4, 'refund', 'openai', at(7, 0), late)},
        ${ins(u.id, -8, 'debit', 'openai', at(40), old)},
        ${ins(u.id, 8, 'refund', 'openai', at(6), old)},
        ${ins(u.id, -5, 'debit', 'grok', at(3))},
        ${ins(u.id, 2, 'refund', 'grok', at(3, 13))},
        ${ins(u.id, -3, 'debit', 'grok', at(3, 23))},
        ${ins(u.id, -7, 'debit', 'openai', at(29, 0))},
        ${ins(u.id, -9, 'debit', 'openai', at(30, 23))},
        ${ins(u.id, -20, 'debit', 'wan-2.5', at(10))},
        ${ins(u.id, 500, 'purchase', null, at(5))},
        ${ins(u.id, -40, 'chargeback', null, at(5))},
        ${ins(u.id, 50, 'adjustment', 'grok', at(4))},
        ${ins(u.id, -6, 'debit', 'retired-module', at(2))},
        ${ins(other.id, -11, 'debit', 'grok', at(3))}`);
    const past = {
        grok: { [days[26]]: 6 },
        openai: { [days[0]]: 7 },
        'wan-2.5': { [days[19]]: 20 },
        'retired-module': { [days[27]]: 6 },
    };

    const d = await dash(u.jar);

    // recent: newest first, ours only, with thumbnails for images made
    const ids = made.map(([, id]) => id).reverse();
    assert.deepEqual(d.recent.map((r) => r.id), ids, 'the user\'s generations, newest first');
    for (const r of d.recent) {
        assert.deepEqual(Object.keys(r).sort(), ['createdAt', 'id', 'kind', 'module', 'prompt', 'status', 'thumb', 'title', 'url']);
        const reg = REGISTRY.find((m) => m.name === r.module);
        assert.equal(r.title, reg.title);
        assert.equal(r.kind, reg.kind);
        assert.equal(r.url, `/${r.module}/`);
        assert.match(r.createdAt, ISO);
        assert.ok(r.prompt.includes(t));
        if (reg.kind === 'image' && r.status === 'succeeded') {
            assert.match(r.thumb, new RegExp(`^/${r.module}/media/${r.id}/[^/]+\\.png$`));
            const img = await get(r.thumb, { headers: u.jar.headers() });
            assert.equal(img.status, 200, `the thumbnail ${r.thumb} loads`);
            assert.match(img.headers['content-type'], /^image\/png/);
            assert.equal((await get(r.thumb, { headers: other.jar.headers() })).status, 404, 'and only for its owner');
        } else {
            assert.equal(r.thumb, null, `${r.module} ${r.status}: no thumbnail`);
        }
    }
    if (has('seedream')) {
        assert.ok(d.recent.some((r) => r.prompt === `dashboard <seedream> & "co" ${t}`), 'the prompt as written, in JSON');
    }

    // usage: today from the generations, earlier days from the ledger rows
    const want = {};
    for (const [m, n] of Object.entries(spent)) (want[m] ??= {})[days[29]] = n;
    for (const [m, byDay] of Object.entries(past)) for (const [day, n] of Object.entries(byDay)) (want[m] ??= {})[day] = n;
    if (has('nano-banana')) (want['nano-banana'] ??= {});
    const order = [...MODULES.filter((m) => want[m]), ...Object.keys(want).filter((m) => !MODULES.includes(m))];
    assert.deepEqual(d.usage.modules, order, 'modules with spending in the window, registry order first');
    for (const m of order) {
        const series = days.map((day) => want[m][day] || 0);
        assert.deepEqual(d.usage.series[m], series, `${m}: credits spent per day`);
    }
    assert.deepEqual(Object.keys(d.usage.series).sort(), [...order].sort());
    assert.equal(d.balance, Number(psql(`SELECT "balance" FROM "CreditAccount" WHERE "userId" = ${lit(u.id)}`)));

    const svg = assertChart(d);
    // the legend names every module of the chart by its title
    const texts = [...walk(svg)].filter((e) => e.name === 'text').map((e) => e.text);
    for (const m of order) {
        assert.ok(texts.includes(REGISTRY.find((r) => r.name === m)?.title ?? m), `the legend names ${m}`);
    }
    // each day's bar has a title with its total
    const titles = [...walk(svg)].filter((e) => e.name === 'g' && e.attrs.class === 'nb-chart-bar')
        .map((g) => g.children.find((c) => c.name === 'title').text);
    assert.equal(titles.length, 30);
    assert.match(titles[26], new RegExp(`^${days[26]}: \\d+ credits`));
});

test('a negative balance is shown as it is', async () => {
    const u = await person('dash-negative');
    setBalance(u.id, -12);
    const d = await dash(u.jar);
    assert.equal(d.balance, -12);
    const page = await get('/', { headers: u.jar.headers({ Accept: 'text/html' }) });
    assert.ok(page.text.includes('href="/billing"'), 'the page links to billing');
});

test('recent activity is the 12 latest of many, across modules', async () => {
    const u = await person('dash-many');
    const mods = MODULES.slice(0, 3);
    psql(`INSERT INTO "Generation" ("id", "userId", "module", "model", "kind", "status", "prompt", "cost", "createdAt")
        SELECT gen_random_uuid()::text, ${lit(u.id)}, (ARRAY[${mods.map(lit).join(',')}])[1 + i % ${mods.length}], 'm', 'text',
               'succeeded', 'many #' || i, 1, (now() AT TIME ZONE 'utc') - i * interval '1 minute'
        FROM generate_series(1, 40) AS i`);
    const d = await dash(u.jar);
    assert.equal(d.recent.length, 12);
    assert.deepEqual(d.recent.map((r) => r.prompt), Array.from({ length: 12 }, (_, i) => `many #${i + 1}`));
    const long = 'x'.repeat(500);
    psql(`UPDATE "Generation" SET "prompt" = ${lit(long)} WHERE "userId" = ${lit(u.id)} AND "prompt" = 'many #1'`);
    assert.equal((await dash(u.jar)).recent[0].prompt.length, 200, 'a long prompt is cut to 200 characters');
});

test('GET /: the dashboard page for a signed-in user, the public home page otherwise', async () => {
    const u = await person('dash-page');
    const page = await get('/', { headers: u.jar.headers({ Accept: 'text/html' }) });
    assert.equal(page.status, 200);
    assert.ok(isHtml(page));
    assert.match(page.text, /<script type="module" src="\/ui\/dashboard\.js"><\/script>/);
    assert.ok(page.text.includes('data-nb-dashboard'));
    assert.ok(page.text.includes(u.user.name));
    // the shared header: account links, the current one marked, the name
    assert.match(page.text, /<nav class="nb-account" aria-label="Account"><a class="nb-dashboard" href="\/" aria-current="page">Dashboard<\/a><a class="nb-billing" href="\/billing">Billing<\/a><a class="nb-settings" href="\/settings">Settings<\/a><\/nav>/);
    assert.ok(page.text.includes('<a href="/api/auth/signout?callbackUrl=%2F">Sign out</a>'));
    for (const m of MODULES) assert.ok(page.text.includes(`href="/${m}"`), `the header links /${m}`);

    const anon = await get('/', { headers: { Accept: 'text/html' } });
    assert.equal(anon.status, 200);
    assert.ok(!anon.text.includes('data-nb-dashboard'), 'no dashboard without a session');
    assert.ok(anon.text.includes('href="/api/auth/signin"'));
    assert.ok(!anon.text.includes('nb-account'), 'no account links without a session');

    if (has('qwen')) {
        const mod = await get('/qwen/', { headers: u.jar.headers({ Accept: 'text/html' }) });
        assert.equal(mod.status, 200);
        assert.match(mod.text, /<nav class="nb-account" aria-label="Account"><a class="nb-dashboard" href="\/">Dashboard<\/a><a class="nb-billing" href="\/billing">Billing<\/a><a class="nb-settings" href="\/settings">Settings<\/a><\/nav>/,
            'a module page has the same header, its own link marked instead');
        assert.ok(mod.text.includes('<a href="/qwen" aria-current="page">'));
    }
});
