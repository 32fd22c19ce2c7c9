// Client headers, query strings and cookies that look like the identity
// params never grant access and never change the identity a backend sees.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { MODULES, get, request, signedInUser, isJson } from './lib.mjs';

const SPOOFS = [
    { NANO_USER_ID: 'spoofed' },
    { 'Nano-User-Id': 'spoofed' },
    { 'X-Nano-User-Id': 'spoofed' },
    { nano_user_id: 'spoofed' },
    { 'nano-user-id': 'spoofed', 'nano-user-email': 'spoof@evil.example', 'nano-user-name': 'Spoof' },
    { NANO_USER_EMAIL: 'spoof@evil.example', NANO_USER_NAME: 'Spoof', NANO_SESSION_ID: 'spoofed' },
    { 'X-Remote-User': 'spoofed', 'Remote-User': 'spoofed', 'X-Forwarded-User': 'spoofed' },
    { Authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
    { Authorization: 'Bearer spoofed' },
    { Proxy: 'http://evil.example' },
];

const describe = (h) => Object.keys(h).join(', ');

let session;
before(async () => {
    session = await signedInUser('spoof');
});

test('without a session, look-alike headers grant nothing', async () => {
    for (const h of SPOOFS) {
        for (const m of MODULES) {
            const api = await get(`/${m}/api/me`, { headers: h });
            assert.equal(api.status, 401, `/${m}/api/me with ${describe(h)}: ${api.text.slice(0, 100)}`);
            assert.ok(isJson(api));
            assert.equal(api.json().error, 'unauthorized');
        }
        const page = await get('/openai/', { headers: { Accept: 'text/html', ...h } });
        assert.equal(page.status, 302, `/openai/ with ${describe(h)}`);
    }
});

test('without a session, identity in the query string or cookies grants nothing', async () => {
    for (const q of ['NANO_USER_ID=x', 'nano_user_id=x&NANO_USER_EMAIL=a@b.c', 'HTTP_NANO_USER_ID=x']) {
        const res = await get(`/qwen/api/me?${q}`);
        assert.equal(res.status, 401, q);
    }
    const res = await get('/qwen/api/me', { headers: { Cookie: 'NANO_USER_ID=x; nano_user_id=x' } });
    assert.equal(res.status, 401);
});

test('with a session, look-alike headers do not change the identity', async () => {
    const { jar, me, user } = session;
    for (const h of SPOOFS) {
        for (const m of MODULES) {
            const res = await get(`/${m}/api/me`, { headers: jar.headers(h) });
            assert.equal(res.status, 200, `/${m}/api/me with ${describe(h)}`);
            assert.deepEqual(res.json(), { id: me.id, email: user.email, name: user.name, module: m },
                `/${m}/api/me with ${describe(h)}`);
        }
    }
    const q = await get('/grok/api/me?NANO_USER_ID=spoofed&NANO_USER_EMAIL=x@evil.example', { headers: jar.headers() });
    assert.equal(q.json().id, me.id);
    assert.equal(q.json().email, user.email);
});

test('a header line with an encoded newline cannot inject params', async () => {
    const { jar, me } = session;
    const res = await request('GET', '/seedream/api/me', {
        headers: jar.headers({ 'X-Test': 'a%0d%0aNANO_USER_ID: spoofed' }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.json().id, me.id);
});
