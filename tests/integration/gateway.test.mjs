// The gateway without a session: redirects and 401s for every module,
// hostile paths, /<module>/api/auth/* 404, shared assets, the
// CVE-2019-11043 pattern.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
    ORIGIN, MODULES, get, request, location, isJson, signedInUser, stackPid, alive,
} from './lib.mjs';

const HTML = { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const signin = (pathAndQuery) => `/api/auth/signin?callbackUrl=${encodeURIComponent(pathAndQuery)}`;

function assertUnauthorized(res, what) {
    assert.equal(res.status, 401, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    assert.ok(isJson(res), `${what}: content-type ${res.headers['content-type']}`);
    assert.equal(res.json().error, 'unauthorized', what);
    assert.equal(res.headers['www-authenticate'], 'Cookie realm="nano", form-action="/api/auth/signin"', what);
}

// The callback a redirect to the sign-in page carries, or null.
function callbackOf(res) {
    const loc = res.headers.location || '';
    if (!loc.startsWith('/api/auth/signin?')) return null;
    return new URLSearchParams(loc.slice(loc.indexOf('?') + 1)).get('callbackUrl');
}

// A callback (the callbackUrl parameter once decoded) is safe when it is a
// path that cannot leave the origin: no leading // or /\ (browsers read
// both as a host), even after whitespace they strip.
function assertSafeCallback(cb, what) {
    assert.ok(cb.startsWith('/'), `${what}: callback ${JSON.stringify(cb)} is not a path`);
    assert.ok(!/^\/[\s]*[/\\]/.test(cb), `${what}: callback ${JSON.stringify(cb)} starts with // or /\\`);
    assert.equal(new URL(cb, ORIGIN).origin, ORIGIN, `${what}: callback ${JSON.stringify(cb)} leaves the origin`);
}

for (const m of MODULES) {
    test(`/${m}/ without a session`, async (t) => {
        await t.test('GET page: 302 to the sign-in page with the exact callbackUrl', async () => {
            const res = await get(`/${m}/`, { headers: HTML });
            assert.equal(res.status, 302);
            assert.equal(res.headers.location, signin(`/${m}/`));
        });
        await t.test('the Location never comes from the Host header', async () => {
            const res = await get(`/${m}/`, { headers: { ...HTML, Host: 'evil.example' } });
            assert.equal(res.status, 302);
            assert.equal(res.headers.location, signin(`/${m}/`));
            const fwd = await get(`/${m}/`, { headers: { ...HTML, 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https' } });
            assert.equal(fwd.headers.location, signin(`/${m}/`));
        });
        await t.test('the raw path and query are carried, percent-encoded', async () => {
            const raw = `/${m}/some/page?x=1&y=a%20b&z=%2F`;
            const res = await get(raw, { headers: HTML });
            assert.equal(res.status, 302);
            assert.ok(res.headers.location.startsWith('/api/auth/signin?callbackUrl='), res.headers.location);
            assert.equal(callbackOf(res), raw);
            assert.ok(!/[\s"<>]/.test(res.headers.location), `Location is encoded: ${res.headers.location}`);
        });
        await t.test('HEAD page: 302', async () => {
            const res = await request('HEAD', `/${m}/`, { headers: HTML });
            assert.equal(res.status, 302);
            assert.equal(res.headers.location, signin(`/${m}/`));
        });
        await t.test('Accept */* or none: 302', async () => {
            for (const accept of ['*/*', undefined]) {
                const res = await get(`/${m}/x`, { headers: accept ? { Accept: accept } : {} });
                assert.equal(res.status, 302, `Accept ${accept}`);
            }
        });
        await t.test('/api/*: 401 JSON', async () => {
            assertUnauthorized(await get(`/${m}/api/me`, { headers: HTML }), `GET /${m}/api/me`);
            assertUnauthorized(await get(`/${m}/api/anything/else?x=1`), `GET /${m}/api/anything/else`);
            const head = await request('HEAD', `/${m}/api/me`);
            assert.equal(head.status, 401, `HEAD /${m}/api/me`);
        });
        await t.test('methods other than GET/HEAD: 401 JSON', async () => {
            for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
                const res = await request(method, `/${m}/`, {
                    headers: { ...HTML, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'a=1',
                });
                assertUnauthorized(res, `${method} /${m}/`);
            }
        });
        await t.test('Accept naming JSON but not HTML: 401; naming both: 302', async () => {
            assertUnauthorized(await get(`/${m}/x`, { headers: { Accept: 'application/json' } }), 'application/json');
            assertUnauthorized(await get(`/${m}/x`, { headers: { Accept: 'application/json, text/plain, */*' } }), 'json, text/plain, */*');
            const both = await get(`/${m}/x`, { headers: { Accept: 'text/html,application/json' } });
            assert.equal(both.status, 302);
            assert.equal(both.headers.location, signin(`/${m}/x`));
        });
        await t.test('/api/auth/* under the module: 404', async () => {
            for (const p of ['session', 'csrf', 'signin', 'callback/credentials', '']) {
                const res = await get(`/${m}/api/auth/${p}`, { headers: HTML });
                assert.equal(res.status, 404, `/${m}/api/auth/${p}`);
            }
            const post = await request('POST', `/${m}/api/auth/callback/credentials`, {
                headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'a=1',
            });
            assert.equal(post.status, 404);
        });
    });
}

test('/<module>/api/auth/* is 404 with a session too', async () => {
    const { jar } = await signedInUser('apiauth');
    for (const m of MODULES) {
        for (const p of ['session', 'csrf', 'providers', 'signout']) {
            const res = await get(`/${m}/api/auth/${p}`, { headers: jar.headers() });
            assert.equal(res.status, 404, `/${m}/api/auth/${p}`);
            assert.ok(!res.setCookies.length, `/${m}/api/auth/${p} sets no cookie`);
        }
    }
});

test('shared assets under /ui/ need no session', async () => {
    const res = await get('/ui/ui.css');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] || '', /^text\/css/);
    assert.ok(res.text.length > 0);
    const missing = await get('/ui/no-such-file.css');
    assert.equal(missing.status, 404);
});

test('the platform pages need no session', async () => {
    for (const p of ['/api/auth/signin', '/api/auth/csrf', '/api/auth/providers']) {
        const res = await get(p);
        assert.equal(res.status, 200, p);
    }
});

test('hostile paths never yield a callback starting with // or /\\', async () => {
    const paths = [
        '//evil.example/', '//evil.example/qwen/', '///evil.example/qwen/', '//qwen/', '///qwen/',
        '//qwen//evil.example/', '/qwen//evil.example/', '/\\evil', '/\\/evil.example/', '/qwen/\\evil',
        '/%2F%2Fevil.example/', '/%5Cevil.example/', '//%5Cevil.example/', '/qwen/..//evil.example/',
        '/qwen/%2e%2e//evil.example/', '/qwen/../\\evil.example/', '//\\evil.example/qwen/',
        '/%2fqwen/', '/qwen%2F', '/qwen/%0d%0aLocation:%20//evil.example/',
    ];
    let redirects = 0;
    for (const p of paths) {
        const res = await get(p, { headers: HTML });
        assert.ok(res.status < 500, `${p}: ${res.status}`);
        const loc = res.headers.location;
        if (!loc) continue;
        assert.ok(!/^[/\\]{2}/.test(loc), `${p}: Location ${loc}`);
        assert.equal(new URL(loc, ORIGIN).origin, ORIGIN, `${p}: Location ${loc}`);
        const cb = callbackOf(res);
        if (cb !== null) {
            redirects++;
            assertSafeCallback(cb, p);
        }
    }
    assert.ok(redirects >= 3, `only ${redirects} hostile paths reached a module's sign-in redirect`);
    // A module path with doubled slashes is still protected.
    const dbl = await get('/qwen//api/me');
    assert.ok([401, 302, 404].includes(dbl.status), `/qwen//api/me: ${dbl.status}`);
    assert.notEqual(dbl.status, 200);
});

test('CVE-2019-11043 pattern: a newline in the path does not split PATH_INFO', async () => {
    const { jar, me } = await signedInUser('cve');
    const pid = stackPid('qwen');
    const paths = [
        '/qwen/api/me%0a', '/qwen/api/me%0aindex.php', '/qwen/%0a', '/qwen/api%0a/me',
        '/qwen/api/me%0d%0a', `/qwen/x%0ay.php?${'Q'.repeat(1800)}`,
        `/qwen/index.php%0a?a=${'x'.repeat(3000)}`, '/qwen/api/me%0aNANO_USER_ID=x',
    ];
    for (const p of paths) {
        const withSession = await get(p, { headers: jar.headers() });
        assert.ok(withSession.status >= 400 && withSession.status < 500, `${p} with a session: ${withSession.status}`);
        const without = await get(p, { headers: HTML });
        assert.ok([302, 400, 401, 404].includes(without.status), `${p} without a session: ${without.status}`);
        if (without.status === 302) assertSafeCallback(callbackOf(without) ?? '/', p);
    }
    const after = await get('/qwen/api/me', { headers: jar.headers() });
    assert.equal(after.status, 200);
    assert.equal(after.json().id, me.id);
    if (pid) assert.ok(alive(pid) && stackPid('qwen') === pid, 'the qwen backend did not restart or crash');
});
