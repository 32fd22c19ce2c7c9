// Central CSRF on the test stack (issue 8, docs/SESSIONS.md "Central
// CSRF"): the shipped gateway.conf turns nano_auth_csrf on, so on every
// module path a POST, PUT, PATCH or DELETE from another site is refused by
// nginx with 403 {"error":"csrf"} before the module sees it, with or
// without a session; same-origin requests and safe methods pass; the
// platform's /api/account keeps its own answer.  That nginx refused it
// (not the module, whose own answer looks the same) shows in the shipped
// access log format: reason=csrf, and no generation is made.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ORIGIN, STATE, REGISTRY, request, get, signedInUser, sleep } from './lib.mjs';
import { psql, lit } from './accounts.mjs';

const ACCESS_LOG = `${STATE}/logs/nginx-access.log`;
const EVIL = 'https://evil.example';
const FAKE_ID = '00000000-0000-4000-8000-000000000000';
const CROSS = [
    ['a foreign Origin', { Origin: EVIL }],
    ['Origin null', { Origin: 'null' }],
    ['our host on another port', { Origin: ORIGIN.replace(/:(\d+)$/, (_, p) => `:${Number(p) + 1}`) }],
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['cross-site with our Origin', { 'Sec-Fetch-Site': 'cross-site', Origin: ORIGIN }],
];
let u;

before(async () => {
    u = await signedInUser('csrf');
});

// The access log lines of the requests whose URI carries tag.
async function logLines(tag) {
    for (let i = 0; i < 20; i++) {
        const lines = fs.readFileSync(ACCESS_LOG, 'utf8').split('\n').filter((l) => l.includes(tag));
        if (lines.length) return lines;
        await sleep(50);
    }
    return [];
}

function assertCsrf(res, what) {
    assert.equal(res.status, 403, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    assert.match(res.headers['content-type'], /^application\/json/, what);
    assert.equal(res.headers['cache-control'], 'no-store', what);
    assert.deepEqual(res.json(), { error: 'csrf', message: 'this request came from another site' }, what);
}

test('every module path: cross-site state changes are refused by nginx (reason=csrf), session or not', async () => {
    const gens = psql(`SELECT count(*) FROM "Generation" WHERE "userId" = ${lit(u.me.id)}`);
    for (const m of REGISTRY) {
        const paths = [
            ['POST', `/${m.name}/api/generate`],
            ['POST', `/${m.name}/api/generations/${FAKE_ID}/cancel`],
            ['DELETE', `/${m.name}/api/generations/${FAKE_ID}`],
            ['PUT', `/${m.name}/api/history`],
            ['PATCH', `/${m.name}/api/models`],
            ['POST', `/${m.name}/`],
        ];
        for (const [method, p] of paths) {
            for (const [what, h] of CROSS) {
                for (const session of [true, false]) {
                    const tag = crypto.randomBytes(6).toString('hex');
                    const headers = { 'Content-Type': 'application/json', ...h };
                    const res = await request(method, `${p}?t=${tag}`, {
                        headers: session ? u.jar.headers(headers) : headers,
                        body: JSON.stringify({ prompt: 'a cat' }),
                    });
                    const w = `${method} ${p}, ${what}${session ? '' : ', no session'}`;
                    assertCsrf(res, w);
                    const lines = await logLines(tag);
                    assert.equal(lines.length, 1, w);
                    assert.match(lines[0], / 403 \d+ auth=\w+ reason=csrf /, `${w}: ${lines[0]}`);
                }
            }
        }
    }
    assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "userId" = ${lit(u.me.id)}`), gens,
        'nothing reached a module');
});

test('every module path: same-origin requests and safe methods pass the gateway', async () => {
    for (const m of REGISTRY) {
        for (const [what, h] of [
            ['our Origin', { Origin: ORIGIN }],
            ['Sec-Fetch-Site: same-origin', { 'Sec-Fetch-Site': 'same-origin', Origin: ORIGIN }],
            ['no Origin', {}],
        ]) {
            const tag = crypto.randomBytes(6).toString('hex');
            const res = await request('DELETE', `/${m.name}/api/generations/${FAKE_ID}?t=${tag}`, {
                headers: u.jar.headers({ 'Content-Type': 'application/json', ...h }),
            });
            assert.equal(res.status, 404, `${m.name} DELETE, ${what}: the module answered ${res.status} ${res.text.slice(0, 200)}`);
            const lines = await logLines(tag);
            assert.match(lines[0], / 404 \d+ auth=ok reason=- /, lines[0]);
        }
        for (const method of ['GET', 'HEAD', 'OPTIONS']) {
            const tag = crypto.randomBytes(6).toString('hex');
            const res = await request(method, `/${m.name}/api/models?t=${tag}`, {
                headers: u.jar.headers({ Origin: EVIL, 'Sec-Fetch-Site': 'cross-site' }),
            });
            assert.notEqual(res.status, 403, `${m.name} ${method} cross-site`);
            const lines = await logLines(tag);
            assert.match(lines[0], /reason=- /, lines[0]);
        }
    }
    // the module page itself, cross-site GET: a link from another site
    const page = await get(`/${REGISTRY[0].name}/`, { headers: u.jar.headers({ 'Sec-Fetch-Site': 'cross-site', Accept: 'text/html' }) });
    assert.equal(page.status, 200);
});

test('no session, same origin: 401 (reason=missing), not 403', async () => {
    const tag = crypto.randomBytes(6).toString('hex');
    const res = await request('POST', `/${REGISTRY[0].name}/api/generate?t=${tag}`, {
        headers: { 'Content-Type': 'application/json', Origin: ORIGIN }, body: '{}',
    });
    assert.equal(res.status, 401);
    assert.match((await logLines(tag))[0], / 401 \d+ auth=missing reason=missing /);
});

test('the platform\'s /api/account keeps its own answer (nano_auth_csrf off there)', async () => {
    const res = await request('POST', '/api/account/signout-all', {
        headers: u.jar.headers({ 'Content-Type': 'application/json', Origin: EVIL }), body: '{}',
    });
    assert.equal(res.status, 403);
    assert.equal(res.json().error, 'cross_site');
});
