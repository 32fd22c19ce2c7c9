// Rate limits (issue 5, docs/SESSIONS.md "Rate limits"):
//  - per client address, nginx's limit_req on sign-in, registration and
//    /api/account/*: 429 with Retry-After, JSON with the url next-auth's
//    signIn() reads, or a small page for Accept: text/html.  The test
//    stack keys the zones on the X-Nano-Test-Client header (requests
//    without it are never limited), so each test limits a client of its
//    own with a fresh header value;
//  - per account, in the database ("SignInThrottle"): more than 10
//    attempts for one email lock it, and a locked attempt answers 429 at
//    once, without bcrypt; unknown emails alike; a correct password after
//    the lock signs in; the sign-in page explains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
    ORIGIN, SESSION_COOKIE, Jar, get, request, form, newUser, register, csrf,
    signedInUser, isJson, isHtml, location, now,
} from './lib.mjs';
import { FORM, psql, lit, throttleKey } from './accounts.mjs';
import { ROOT, withBackendEnv } from './generations.mjs';
import path from 'node:path';

const RATE_LIMITED = '/api/auth/error?error=RateLimited';
const newClient = () => `rl-${crypto.randomBytes(6).toString('hex')}`;

// Sends until a 429 comes, at most max requests; -> {res, n}.  Requests
// within the burst pass at once (limit_req ... nodelay): one held back
// for seconds means nginx queues instead of refusing.
async function hammer(send, max = 25) {
    let last;
    for (let n = 1; n <= max; n++) {
        const t0 = Date.now();
        last = await send();
        const ms = Date.now() - t0;
        assert.ok(ms < 3000, `request ${n} took ${ms} ms: nginx delayed it instead of answering`
            + ' (limit_req without nodelay?); past the burst the answer must be a 429 at once');
        if (last.status === 429) return { res: last, n };
    }
    return { res: null, n: max, last };
}

function assertRetryAfter(res, what) {
    const ra = res.headers['retry-after'];
    assert.ok(ra !== undefined, `${what}: a Retry-After header`);
    assert.match(ra, /^\d+$/, `${what}: Retry-After in seconds, got ${ra}`);
    assert.ok(Number(ra) > 0, `${what}: Retry-After > 0`);
}

function assertJson429(res, what) {
    assert.equal(res.status, 429, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    assertRetryAfter(res, what);
    assert.ok(isJson(res), `${what}: JSON for Accept */*, got ${res.headers['content-type']}: ${res.text.slice(0, 200)}`);
    const body = res.json();
    assert.equal(typeof body.url, 'string', `${what}: a url for next-auth's signIn(): ${res.text}`);
    assert.ok(body.url.endsWith(RATE_LIMITED), `${what}: url ${body.url} ends with ${RATE_LIMITED}`);
    assert.equal(new URL(body.url, ORIGIN).origin, ORIGIN, `${what}: url on our origin`);
    return body;
}

function assertHtml429(res, what) {
    assert.equal(res.status, 429, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    assertRetryAfter(res, what);
    assert.ok(isHtml(res), `${what}: a page for Accept: text/html, got ${res.headers['content-type']}`);
    assert.match(res.text, /<html|<!doctype/i, what);
}

// The nginx 429 of a zone, both ways: hammer(Accept */*) until 429, then
// the same client with Accept: text/html.  A client without the header
// and another client are not limited meanwhile.
async function assertZone(what, max, send) {
    const client = newClient();
    const { res, n, last } = await hammer(() => send(client, '*/*'), max);
    assert.ok(res, `${what}: no 429 after ${n} requests of one client (last ${last?.status}: ${last?.text.slice(0, 150)})`);
    const body = assertJson429(res, `${what} (request ${n})`);
    assert.equal(body.error, 'too_many_requests', `${what}: nginx's error code`);

    // Still within the same second or so: the client is still limited.
    let page;
    for (let i = 0; i < 3; i++) {
        page = await send(client, 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8');
        if (page.status === 429) break;
    }
    assertHtml429(page, `${what} with Accept: text/html`);

    const other = await send(newClient(), '*/*');
    assert.notEqual(other.status, 429, `${what}: another client is not limited`);
    const none = await send(undefined, '*/*');
    assert.notEqual(none.status, 429, `${what}: a request without X-Nano-Test-Client is not limited`);
    return { client, n };
}

const withClient = (client, accept, h) => ({
    ...h, Accept: accept, ...(client ? { 'X-Nano-Test-Client': client } : {}),
});

test('nginx limits sign-in per client: 429, Retry-After, JSON url for next-auth, a page for browsers', async () => {
    // No csrfToken: the platform answers at once (csrf=true), no bcrypt.
    const send = (client, accept) => request('POST', '/api/auth/callback/credentials', {
        headers: withClient(client, accept, FORM),
        body: form({ email: 'nobody@example.com', password: 'whatever-123', json: 'true', callbackUrl: '/' }),
    });
    const { client, n } = await assertZone('POST /api/auth/callback/credentials', 25, send);
    assert.ok(n >= 11, `10 r/min with a burst of 10: the first 11 pass, the 429 came at request ${n}`);
    // Pages and the session endpoint are not limited for that client.
    for (const p of ['/api/auth/csrf', '/api/auth/signin', '/api/auth/session', '/api/auth/providers']) {
        const r = await get(p, { headers: { 'X-Nano-Test-Client': client } });
        assert.notEqual(r.status, 429, `GET ${p} is not limited`);
    }
});

test('nginx limits POST /api/auth/signin/credentials in the sign-in zone', async () => {
    const send = (client, accept) => request('POST', '/api/auth/signin/credentials', {
        headers: withClient(client, accept, FORM),
        body: form({ json: 'true', callbackUrl: '/' }),
    });
    await assertZone('POST /api/auth/signin/credentials', 25, send);
});

test('nginx limits registration per client (5 r/min, burst 5)', async () => {
    // An invalid email: the platform answers 400 at once, no bcrypt.
    const send = (client, accept) => request('POST', '/api/register', {
        headers: withClient(client, accept, { 'Content-Type': 'application/json', Origin: ORIGIN }),
        body: JSON.stringify({ email: 'not-an-email', name: 'X', password: 'pw-long-enough' }),
    });
    const { n } = await assertZone('POST /api/register', 15, send);
    assert.ok(n >= 6, `5 r/min with a burst of 5: the first 6 pass, the 429 came at request ${n}`);
});

test('nginx limits /api/account/* per client (10 r/min, burst 10)', async () => {
    const { jar } = await signedInUser('rl-account');
    // A form body: the platform answers 415 at once, no bcrypt.
    const send = (client, accept) => request('POST', '/api/account/password', {
        headers: withClient(client, accept, jar.headers(FORM)),
        body: form({ currentPassword: 'x', newPassword: 'y' }),
    });
    const { n } = await assertZone('POST /api/account/password', 25, send);
    assert.ok(n >= 11, `10 r/min with a burst of 10: the first 11 pass, the 429 came at request ${n}`);
});

test('a limited upload over the server\'s 1 MiB is the same 429, not nginx\'s bare 413', async () => {
    const { jar } = await signedInUser('rl-avatar');
    const client = newClient();
    const small = () => request('POST', '/api/account/profile', {
        headers: withClient(client, '*/*', jar.headers({ 'Content-Type': 'application/json', Origin: ORIGIN })),
        body: '{}',
    });
    const { res } = await hammer(small);
    assert.ok(res, 'the client is limited');
    // a 2 MiB picture: the avatar's location takes 6 MiB, but the 429's
    // page was checked against the 1 MiB of the server
    const boundary = 'rl-boundary';
    const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n`
            + 'Content-Type: image/png\r\n\r\n'),
        Buffer.alloc(2 * 1024 * 1024, 0x61), Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const up = await request('POST', '/api/account/avatar', {
        headers: withClient(client, '*/*', jar.headers({
            'Content-Type': `multipart/form-data; boundary=${boundary}`, Origin: ORIGIN,
        })),
        body,
    });
    assertJson429(up, 'a 2 MiB upload past the limit');
});

test('reads of /api/account/* are not account changes: not limited, and they leave the changes\' burst whole', async () => {
    const { jar } = await signedInUser('rl-account-reads');
    const client = newClient();
    // the settings page reads both lists each time it loads
    for (let i = 0; i < 15; i++) {
        for (const p of ['/api/account/sessions', '/api/account/connections']) {
            const r = await get(p, { headers: jar.headers({ 'X-Nano-Test-Client': client }) });
            assert.equal(r.status, 200, `GET ${p} #${i + 1}: ${r.status} ${r.text.slice(0, 200)}`);
        }
    }
    const send = () => request('POST', '/api/account/password', {
        headers: withClient(client, '*/*', jar.headers(FORM)),
        body: form({ currentPassword: 'x', newPassword: 'y' }),
    });
    const { res, n } = await hammer(send, 25);
    assert.ok(res, `the changes are still limited after the reads (no 429 in ${n})`);
    assert.ok(n >= 11, `30 reads used up the changes' burst: the 429 came at change ${n}`);
});

// --- per account ------------------------------------------------------------

// One credentials sign-in POST (the csrf token fetched before), timed.
async function attempt(jar, csrfToken, email, password, { json = true, accept = '*/*' } = {}) {
    const t0 = process.hrtime.bigint();
    const res = await request('POST', '/api/auth/callback/credentials', {
        headers: jar.headers({ ...FORM, Accept: accept }),
        body: form({ csrfToken, email, password, callbackUrl: '/', ...(json ? { json: 'true' } : {}) }),
    });
    return { res, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

// n wrong attempts, each refused as CredentialsSignin; -> their times.
async function wrongAttempts(jar, token, emails, n) {
    const times = [];
    for (let i = 0; i < n; i++) {
        const email = emails[i % emails.length];
        const { res, ms } = await attempt(jar, token, email, `wrong-password-${i}`);
        assert.equal(res.status, 401, `attempt ${i + 1} for ${JSON.stringify(email)}: not yet throttled: ${res.status} ${res.text.slice(0, 200)}`);
        assert.match(res.json().url, /error=CredentialsSignin/, `attempt ${i + 1}`);
        times.push(ms);
    }
    return times;
}

// Ends an email's lock now (moved into the past); -> the rows changed.
function unlock(email) {
    return psql(`WITH u AS (UPDATE "SignInThrottle" SET "lockedUntil" = ${now() - 1}
                 WHERE "key" = ${lit(throttleKey(email))} RETURNING 1) SELECT count(*) FROM u`);
}

// After 10 wrong attempts: locked, fast, both answers; -> the locked time.
async function assertLocked(jar, token, email, password, what) {
    const { res, ms } = await attempt(jar, token, email, password);
    assertJson429(res, `${what}: the attempt after 10 failures (json=true)`);
    assert.ok(!res.setCookies.some((l) => l.startsWith(`${SESSION_COOKIE}=`) && !l.startsWith(`${SESSION_COOKIE}=;`)),
        `${what}: no session while locked`);

    // A plain form post (a browser without JavaScript): the sign-in page, 429.
    const page = (await attempt(jar, token, email, password, { json: false, accept: 'text/html' })).res;
    assert.equal(page.status, 429, `${what}: a form post while locked: ${page.status} ${page.text.slice(0, 200)}`);
    assertRetryAfter(page, `${what}: form post`);
    assert.ok(isHtml(page), `${what}: the sign-in page, got ${page.headers['content-type']}`);
    assert.match(page.text, /Too many/, `${what}: the page says why`);
    assert.match(page.text, /\/api\/auth\/callback\/credentials/, `${what}: it is the sign-in page (its form)`);
    return ms;
}

test('per account: 10 wrong passwords lock the email; the next attempt is a fast 429 without bcrypt', async () => {
    const user = newUser('throttle');
    assert.equal((await register(user)).status, 201);
    const jar = new Jar();
    const token = await csrf(jar);

    const wrong = await wrongAttempts(jar, token, [user.email], 10);
    // Locked: even the right password is refused, at once.
    const locked = await assertLocked(jar, token, user.email, user.password, 'a known email');
    const minWrong = Math.min(...wrong);
    console.log(`per-account throttle: wrong-password attempt ${minWrong.toFixed(1)} ms (min of 10, bcrypt), locked attempt ${locked.toFixed(1)} ms`);
    assert.ok(locked < minWrong / 2,
        `a locked attempt runs no bcrypt: ${locked.toFixed(1)} ms vs ${minWrong.toFixed(1)} ms for a wrong password`);

    // The lock expires (moved into the past here): the right password signs in.
    assert.equal(unlock(user.email), '1', `one "SignInThrottle" row for sha256(${user.email})`);
    const { res } = await attempt(jar, token, user.email, user.password);
    assert.equal(res.status, 200, `the right password after the lock: ${res.status} ${res.text.slice(0, 200)}`);
    jar.apply(res);
    assert.ok(jar.get(SESSION_COOKIE), 'signed in after the lock');
});

// Several hosts, one "SignInThrottle" (docs/HOSTS.md): a lock one host
// set holds on a host whose clock runs ahead, since the row's times are
// the database's; there the lock had already run out and the attempts
// went on, bcrypt and all.
test('per account: a lock holds on a platform whose clock runs 120 s ahead; once it ends (by the database\'s clock) that platform counts attempts again', async () => {
    const user = newUser('throttle-skew');
    assert.equal((await register(user)).status, 201);
    const jar = new Jar();
    await wrongAttempts(jar, await csrf(jar), [user.email], 10);
    await assertLocked(jar, await csrf(jar), user.email, user.password, 'locked by this host');

    await withBackendEnv('platform', [
        `LD_PRELOAD=${path.join(ROOT, 'build/lib/nano-clockskew.so')}`,
        'NANO_CLOCK_SKEW=120',
        `ASAN_OPTIONS=${[process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':')}`,
    ], async () => {
        const ahead = new Jar();
        await assertLocked(ahead, await csrf(ahead), user.email, user.password, 'the same lock on a host 120 s ahead');
        const left = Number(psql(`SELECT "lockedUntil" - extract(epoch FROM now())::bigint
            FROM "SignInThrottle" WHERE "key" = ${lit(throttleKey(user.email))}`));
        assert.ok(left > 0 && left <= 60, `the first lock is 60 s by the database's clock: ${left} s left`);
        const { res } = await attempt(ahead, await csrf(ahead), user.email, 'wrong-password-skew');
        assert.equal(res.status, 429, res.text.slice(0, 200));
        assert.ok(Math.abs(Number(res.headers['retry-after']) - left) <= 1,
            `Retry-After is the lock's rest by the database's clock: ${res.headers['retry-after']}, ${left} s left`);

        // ended (by the database's clock): counted again there
        assert.equal(psql(`WITH u AS (UPDATE "SignInThrottle" SET "lockedUntil" = extract(epoch FROM now())::bigint - 1
            WHERE "key" = ${lit(throttleKey(user.email))} RETURNING 1) SELECT count(*) FROM u`), '1');
        await wrongAttempts(ahead, await csrf(ahead), [user.email], 1);
        assert.equal(psql(`SELECT "attempts" FROM "SignInThrottle" WHERE "key" = ${lit(throttleKey(user.email))}`), '1',
            'the attempt after the lock was counted');
    });
});

test('per account: an unknown email is throttled the same way (however it is written)', async () => {
    const id = crypto.randomBytes(5).toString('hex');
    const email = `nobody-${id}@example.com`;
    // Trimmed and lower-cased before counting: one key for all of these.
    const spellings = [email, `  ${email}  `, `Nobody-${id}@Example.COM`, email.toUpperCase()];
    const jar = new Jar();
    const token = await csrf(jar);
    const wrong = await wrongAttempts(jar, token, spellings, 10);
    const locked = await assertLocked(jar, token, email, 'another-wrong-one', 'an unknown email');
    console.log(`per-account throttle (unknown email): wrong ${Math.min(...wrong).toFixed(1)} ms, locked ${locked.toFixed(1)} ms`);
    assert.ok(locked < Math.min(...wrong) / 2, `no bcrypt while locked: ${locked.toFixed(1)} ms`);
    assert.equal(psql(`SELECT count(*) FROM "SignInThrottle" WHERE "key" = ${lit(throttleKey(email))}`), '1',
        'one row keyed on sha256 of the normalised email');
});

test('per account: non-ASCII capitals are the same address: one lock, one account, and they sign in', async () => {
    const id = crypto.randomBytes(5).toString('hex');
    const user = { ...newUser('throttle-u'), email: `j\u00f6rg-${id}@b\u00fccher.de` };
    assert.equal((await register(user)).status, 201);
    const upper = `J\u00d6RG-${id.toUpperCase()}@B\u00dcCHER.DE`;
    const decomposed = `JO\u0308RG-${id}@BU\u0308CHER.de`;
    // registering another spelling of it is taken
    const dup = await register({ ...newUser('throttle-u'), email: upper });
    assert.equal(dup.status, 409, `${upper}: ${dup.status} ${dup.text.slice(0, 200)}`);

    const jar = new Jar();
    const token = await csrf(jar);
    await wrongAttempts(jar, token, [user.email, upper, decomposed], 10);
    for (const spelling of [user.email, upper, decomposed]) {
        await assertLocked(jar, token, spelling, user.password, `locked, written ${JSON.stringify(spelling)}`);
    }
    assert.equal(psql(`SELECT count(*) FROM "SignInThrottle" WHERE "key" = ${lit(throttleKey(user.email))}`), '1',
        'one row for every spelling');

    assert.equal(unlock(user.email), '1');
    const { res } = await attempt(jar, token, upper, user.password);
    assert.equal(res.status, 200, `the right password, written in capitals: ${res.status} ${res.text.slice(0, 200)}`);
});

test('per account: wrong current passwords of account changes count against the same lock as sign-in', async () => {
    const { user, jar } = await signedInUser('throttle-change');
    const change = (currentPassword) => request('POST', '/api/account/password', {
        headers: jar.headers({ 'Content-Type': 'application/json', Origin: ORIGIN }),
        body: JSON.stringify({ currentPassword, newPassword: 'a-new-password-1' }),
    });
    for (let i = 0; i < 10; i++) {
        const r = await change(`wrong-${i}`);
        assert.equal(r.status, 403, `wrong current password ${i + 1}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    // locked: the right one is refused too, and so is a sign-in
    const locked = await change(user.password);
    assertJson429(locked, 'a password change after 10 wrong ones');
    const del = await request('DELETE', '/api/account', {
        headers: jar.headers({ 'Content-Type': 'application/json', Origin: ORIGIN }),
        body: JSON.stringify({ password: user.password }),
    });
    assert.equal(del.status, 429, `account deletion while locked: ${del.status} ${del.text.slice(0, 200)}`);
    const j2 = new Jar();
    const { res } = await attempt(j2, await csrf(j2), user.email, user.password);
    assert.equal(res.status, 429, `sign-in while locked: ${res.status}`);
    assert.equal(psql(`SELECT count(*) FROM "User" WHERE "email" = ${lit(user.email.toLowerCase())}`), '1', 'not deleted');

    assert.equal(unlock(user.email), '1');
    const ok = await change(user.password);
    assert.equal(ok.status, 200, `after the lock: ${ok.status} ${ok.text.slice(0, 200)}`);
});

test('GET /api/auth/error?error=RateLimited sends to the sign-in page, which explains', async () => {
    const res = await get('/api/auth/error?error=RateLimited', { headers: { Accept: 'text/html' } });
    assert.equal(res.status, 302, `${res.status} ${res.text.slice(0, 200)}`);
    const { url } = location(res);
    assert.equal(url.origin, ORIGIN);
    assert.equal(url.pathname, '/api/auth/signin');
    assert.equal(url.searchParams.get('error'), 'RateLimited');
    const page = await get(url.pathname + url.search, { headers: { Accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.ok(isHtml(page));
    assert.match(page.text, /Too many/, 'the sign-in page shows the rate-limit message');
});
