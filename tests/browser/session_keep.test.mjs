// A page in use keeps its session (NANO_SESSION_MAX_AGE).  Only GET
// /api/auth/session renews a token, and until 2026-12-07 only the
// settings page asked it: with a short lifetime a session ended that long
// after sign-in however busy its user on a module page (found by the
// review probe).  Pages with the header now ask on focus and on the
// user's input, at most every 10 s.  The platform restarted with the
// least lifetime, 300 s (renewal after 10 s).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { url, launch, newUser, signUp } from './lib.mjs';
import { withBackendEnv } from '../integration/generations.mjs';

const SESSION_COOKIE = 'next-auth.session-token';
const AGE = 300;
let context;

before(async () => {
    context = await launch({ timeout: 20000 });
});

after(async () => {
    await context?.close();
});

const payload = async () => {
    const c = (await context.cookies()).find((k) => k.name === SESSION_COOKIE);
    assert.ok(c, 'a session cookie');
    return JSON.parse(Buffer.from(c.value.split('.')[1], 'base64url').toString());
};

test(`a module page in use renews its session (NANO_SESSION_MAX_AGE=${AGE})`, () =>
    withBackendEnv('platform', [`NANO_SESSION_MAX_AGE=${AGE}`], async () => {
        const page = await context.newPage();
        await page.goto(url('/signup'));
        await signUp(page, newUser('keep'), '/');
        await page.goto(url('/qwen/'));
        await page.locator('textarea').first().waitFor();
        const first = await payload();
        assert.equal(first.exp - first.iat, AGE);

        // the renewal age passed; the user types a prompt
        await page.waitForTimeout(11000);
        const asked = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/session', { timeout: 5000 });
        await page.locator('textarea').first().click();
        await page.keyboard.type('a cat');
        assert.equal((await asked).status(), 200);
        const renewed = await payload();
        assert.equal(renewed.jti, first.jti, 'the same session');
        assert.ok(renewed.iat >= first.iat + 10, `renewed: iat ${first.iat} -> ${renewed.iat}`);
        assert.equal(renewed.exp - renewed.iat, AGE);

        // at most every 10 s: more input at once asks nothing more
        let more = 0;
        page.on('request', (r) => { if (new URL(r.url()).pathname === '/api/auth/session') more++; });
        await page.keyboard.type(' on a mat');
        await page.waitForTimeout(500);
        assert.equal(more, 0);
        await page.close();
    }));
