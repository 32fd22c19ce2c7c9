// Helpers for the tests of issue 5 (sessions, rate limits, strict input):
// sign-out, the /api/account/* calls, "refused at a module within 2 s",
// psql on the test stack's database, nginx's worker processes.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
    ORIGIN, SESSION_COOKIE, Jar, get, request, form, csrf, parseSetCookie,
    clears, sleep,
} from './lib.mjs';

export const FORM = { 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN };
export const REVOKE_WITHIN = 2000;   // ms: the gateway's promise
export const PG_SOCK = process.env.NANO_TEST_PG_SOCK || '';
export const PSQL = path.join(process.env.NANO_TEST_PG_BINDIR || '/usr/lib/postgresql/15/bin', 'psql');

// A second jar holding the same cookies (a copied cookie).
export function copyJar(jar) {
    const j = new Jar();
    for (const [k, v] of jar.cookies) j.set(k, v);
    return j;
}

// POST /api/auth/signout with the CSRF double submit, as the sign-out
// page posts it; the answer's cookies go into the jar.
export async function signOut(jar, extra = {}) {
    const csrfToken = await csrf(jar);
    return jar.apply(await request('POST', '/api/auth/signout', {
        headers: jar.headers(FORM),
        body: form({ csrfToken, callbackUrl: '/', ...extra }),
    }));
}

// A JSON call to /api/account/* from our own origin, with the jar's
// cookies (not applied: the caller decides).
export function account(method, p, jar, body = {}, headers = {}) {
    const h = { 'Content-Type': 'application/json', Origin: ORIGIN, ...headers };
    return request(method, p, {
        headers: jar ? jar.headers(h) : h,
        body: typeof body === 'string' ? body : JSON.stringify(body),
    });
}

// The Set-Cookie of the session cookie in an answer, parsed, or undefined.
export function sessionSetCookie(res, name = SESSION_COOKIE) {
    return res.setCookies.map(parseSetCookie).find((c) => c.name === name);
}

export function clearsSession(res) {
    const c = sessionSetCookie(res);
    return Boolean(c && clears(c));
}

// Polls GET path (a module's /api/me) with each jar every `step` ms until
// every one is refused with the gateway's 401 (a module's own, for an
// account the database no longer has, says so instead of "sign in
// first": it would hide the gateway's delay), or `give` ms pass.  Returns the delays in
// ms from t0 (null for a jar never refused) and the last answers; the
// caller asserts the 2 s promise, so a slow refusal reports its real delay.
export async function refusalDelays(jars, { t0 = Date.now(), path: p = '/qwen/api/me', step = 100, give = 4000 } = {}) {
    const delays = jars.map(() => null);
    const last = jars.map(() => null);
    for (;;) {
        await Promise.all(jars.map(async (j, i) => {
            if (delays[i] !== null) return;
            const res = await get(p, { headers: j.headers() });
            last[i] = res;
            if (res.status === 401 && res.json().message === 'sign in first') delays[i] = Date.now() - t0;
        }));
        if (delays.every((d) => d !== null) || Date.now() - t0 > give) break;
        await sleep(step);
    }
    return { delays, last };
}

// Signs person u out on the host at port `from` and polls the host at
// port `to` (undefined: the test stack's nginx) until u's copied cookie is
// refused there; returns the delay in ms (Infinity after 4 s).  Several
// hosts (hosts.test.mjs) and a host behind a pooler (pooler.test.mjs).
export async function revokeAcross(assert, u, from, to) {
    const old = copyJar(u.jar);
    const at = () => get('/qwen/api/me', { port: to, headers: old.headers() });
    assert.equal((await at()).status, 200, 'works on the other host first');
    const csrfRes = u.jar.apply(await get('/api/auth/csrf', { port: from, headers: u.jar.headers() }));
    const t0 = Date.now();
    const out = await request('POST', '/api/auth/signout', {
        port: from, headers: u.jar.headers(FORM),
        body: new URLSearchParams({ csrfToken: csrfRes.json().csrfToken, callbackUrl: '/' }).toString(),
    });
    assert.equal(out.status, 302, out.text);
    for (;;) {
        const r = await at();
        if (r.status === 401) return Date.now() - t0;
        assert.equal(r.status, 200, r.text);
        if (Date.now() - t0 > 4000) return Infinity;
        await sleep(50);
    }
}

// Asserts that every jar is refused at a module within 2 s of t0; returns
// the largest delay.
export async function assertRefusedWithin(assert, jars, what, opts = {}) {
    const { delays, last } = await refusalDelays(jars, opts);
    delays.forEach((d, i) => {
        const l = last[i];
        assert.ok(d !== null,
            `${what}: session ${i + 1} of ${jars.length} still ${l?.status} at a module after ${opts.give || 4000} ms`
            + ` (must be 401 within ${REVOKE_WITHIN} ms): ${l?.text.slice(0, 150)}`);
        assert.ok(d < REVOKE_WITHIN, `${what}: session ${i + 1} refused only after ${d} ms (must be < ${REVOKE_WITHIN} ms)`);
        assert.equal(last[i].json().error, 'unauthorized', `${what}: the module's 401 answer`);
    });
    return Math.max(...delays);
}

// psql(sql): one statement as the application's role on the test stack's
// database; returns the unaligned, tuples-only output.  An array runs each
// statement in turn in one session (a -c each: a LISTEN then sees the
// NOTIFYs of the statements after it).
export function psql(sql) {
    if (!PG_SOCK) throw new Error('NANO_TEST_PG_SOCK is not set (run through make test)');
    const args = ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', PG_SOCK, '-U', 'nano', '-d', 'nano'];
    for (const one of [].concat(sql)) args.push('-c', one);
    const r = spawnSync(PSQL, args, { encoding: 'utf8', timeout: 30000 });
    if (r.status !== 0) throw new Error(`psql ${sql}: ${r.stderr || r.error}`);
    return r.stdout.trim();
}

// A SQL string literal (standard_conforming_strings is on).
export const lit = (s) => `'${String(s).replace(/'/g, "''")}'`;

// "SignInThrottle"."key": the SHA-256 (hex) of the normalised email
// (trimmed, NFC, lower-cased).
export function throttleKey(email) {
    const norm = email.trim().normalize('NFC').toLowerCase();
    return crypto.createHash('sha256').update(norm, 'utf8').digest('hex');
}

// The pids of a process's children (nginx's workers under the master).
export function childrenOf(pid) {
    const out = [];
    for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
            const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
            if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(d));
        } catch { /* gone */ }
    }
    return out;
}
