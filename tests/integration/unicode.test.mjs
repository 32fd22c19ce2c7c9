// Text beyond ASCII where a user's or a provider's text goes: JSON
// strings that are not UTF-8 or hold a NUL named as a form's fields are;
// a provider's lone surrogate or NUL escape kept as U+FFFD; a callbackUrl
// past ASCII percent-encoded in the Location header; UTF-8 stored as it
// is whatever client encoding libpq's environment names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REGISTRY, ORIGIN, Jar, request, register, newUser, signIn } from './lib.mjs';
import {
    psql, lit, person, balanceOf, JSON_H, tag, generate, generation, stream,
    withBackendEnv,
} from './generations.mjs';

// The same text sent as JSON: a NUL (PostgreSQL keeps none in text or
// jsonb), a raw byte that is not UTF-8, a lone surrogate escape.  Each
// named as the form's field is, where the text modules answered "send a
// JSON object" to a JSON object and the job modules named no field.
test('a JSON string that is not UTF-8 or holds a NUL is refused with that field named, on every module', async () => {
    const u = await person('json-utf8');
    const raw = (a, bytes, b) => Buffer.concat([Buffer.from(a), Buffer.from(bytes), Buffer.from(b)]);
    for (const m of REGISTRY) {
        const cases = [
            ['a NUL escape', Buffer.from('{"prompt":"a\\u0000b"}'), 'prompt', /NUL/],
            ['a raw 0xff', raw('{"prompt":"a', [0xff], 'b"}'), 'prompt', /UTF-8/],
            ['a raw overlong "/"', raw('{"prompt":"a', [0xc0, 0xaf], 'b"}'), 'prompt', /UTF-8/],
            ['a lone surrogate escape', Buffer.from('{"prompt":"a\\ud800b"}'), 'prompt', /UTF-8/],
            ['a NUL in the model', Buffer.from('{"prompt":"hi","model":"x\\u0000"}'), 'model', /NUL/],
            m.kind === 'text'
                ? ['a NUL in a message', Buffer.from('{"messages":[{"role":"user","content":"a\\u0000b"}]}'), 'messages', /NUL/]
                : ['a lone low surrogate in the size', Buffer.from('{"prompt":"hi","size":"\\udc00"}'), 'size', /UTF-8/],
        ];
        for (const [what, body, field, said] of cases) {
            const res = await request('POST', `/${m.name}/api/generate`, {
                headers: u.jar.headers(JSON_H), body,
            });
            assert.equal(res.status, 400, `${m.name}, ${what}: ${res.status} ${res.text.slice(0, 200)}`);
            const j = res.json();
            assert.deepEqual([j.error, j.field], ['invalid_field', field], `${m.name}, ${what}: ${res.text.slice(0, 200)}`);
            assert.match(j.message, said, `${m.name}, ${what}: ${j.message}`);
        }
    }
    assert.equal(balanceOf(u.id), 100, 'nothing charged');
    assert.equal(psql(`SELECT count(*) FROM "Generation" WHERE "userId" = ${lit(u.id)}`), '0', 'no generation recorded');

    // the platform's JSON forms: sign-up and the profile's name
    const email = `json-nul-${tag()}@example.com`;
    for (const [p, jar, body] of [
        ['/api/register', null, `{"email":"${email}","password":"pw-long-enough-1","name":"a\\u0000b"}`],
        ['/api/account/profile', u.jar, '{"name":"a\\u0000b"}'],
        ['/api/account/profile', u.jar, Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')])],
    ]) {
        const h = { ...JSON_H };
        const res = await request('POST', p, { headers: jar ? jar.headers(h) : h, body });
        assert.equal(res.status, 400, `${p} ${body}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.deepEqual([res.json().error, res.json().field], ['invalid_field', 'name'], `${p} ${body}: ${res.text.slice(0, 200)}`);
    }
    assert.equal(psql(`SELECT count(*) FROM "User" WHERE "email" = ${lit(email)}`), '0', 'nobody made');
});

// A provider's answer may hold escapes that JSON's grammar allows and
// jansson refuses: a lone surrogate (a text cut by UTF-16 units, as
// JavaScript's slice() cuts) and \u0000.  Until 2026-12-06 one of them
// threw the whole answer away as "not JSON" (502, or an error event after
// the deltas already shown); now each is U+FFFD, the answer is kept,
// and what was streamed is what the row keeps.
test('a provider\'s lone surrogate or NUL escape becomes U+FFFD: the answer is kept, whole and streamed', async () => {
    const u = await person('odd-unicode');
    const fakes = [['qwen', 'qwen-plus'], ['grok', 'grok-3-mini']].filter(([m]) => REGISTRY.some((x) => x.name === m));
    assert.ok(fakes.length > 0, 'a text module on a fake provider');
    for (const [m, model] of fakes) {
        const prompt = `Tell me something ${tag()} [fake:odd-unicode]`;
        const want = `Fake reply from ${model}: you said "Tell me something ${prompt.split(' ')[3]}". `
            + 'This \ufffd answer\ufffd comes from the test fake, one word at a time.';
        const whole = await generate(u.jar, m, { prompt });
        assert.equal(whole.status, 200, `${m}: ${whole.text.slice(0, 300)}`);
        assert.equal(whole.json().text, want, m);
        assert.equal((await generation(u.jar, m, whole.json().id)).json().text, want, `${m}: the row`);

        const s = await stream(u.jar, m, { prompt, stream: true });
        assert.equal(s.status, 200, s.text.slice(0, 300));
        assert.deepEqual(s.events.filter((e) => e.event === 'error'), [], `${m}: no error event`);
        assert.equal(s.events.at(-1).event, 'done', `${m}: ${s.text.slice(-300)}`);
        const joined = s.events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('');
        assert.equal(joined, want, `${m}: the deltas`);
        assert.equal((await generation(u.jar, m, s.events.at(-1).data.id)).json().text, want, `${m}: the streamed row`);
    }
    assert.equal(balanceOf(u.id), 100 - 2 * fakes.length, 'each answer charged once');
});

// A callbackUrl with text past ASCII went into the sign-in's Location
// header as raw UTF-8 bytes, which no URI holds: a client that reads a
// header as Latin-1 (Node's, most libraries but browsers) went to
// "/qwen/?q=\u00e6\u0097\u00a5...".  The gateway's own redirect to the
// sign-in page already percent-encoded it.
test('a callbackUrl past ASCII comes back percent-encoded: the Location header is ASCII', async () => {
    const user = newUser('cb-utf8');
    assert.equal((await register(user)).status, 201);
    const want = `${ORIGIN}/qwen/?q=%E6%97%A5%E6%9C%AC%20x`;
    let jar = new Jar();
    let res = await signIn(jar, user.email, user.password, { callbackUrl: '/qwen/?q=\u65e5\u672c x' });
    assert.equal(res.status, 302, res.text.slice(0, 200));
    assert.equal(res.headers.location, want, 'the Location header');
    jar = new Jar();
    res = await signIn(jar, user.email, user.password, { callbackUrl: '/qwen/?q=\u65e5\u672c x', json: 'true' });
    assert.equal(res.json().url, want, 'json=true');
});

// libpq takes its client encoding from PGCLIENTENCODING or a
// client_encoding in DATABASE_URL (which the backends pass on): a
// backend started under LATIN1 stored each byte of UTF-8 as a Latin-1
// character, "caf\u00c3\u00a9" for "caf\u00e9", which every other reader
// (the platform's dashboard and export, psql) then showed.
test('a backend whose environment says PGCLIENTENCODING=LATIN1 still stores UTF-8 as it is', async () => {
    const u = await person('client-enc');
    const prompt = `caf\u00e9 \u65e5\u672c \u{1F600} ${tag()}`;
    const id = await withBackendEnv('qwen', ['PGCLIENTENCODING=LATIN1'], async () => {
        const res = await generate(u.jar, 'qwen', { prompt });
        assert.equal(res.status, 200, res.text.slice(0, 300));
        return res.json().id;
    });
    assert.equal(psql(`SELECT "prompt" FROM "Generation" WHERE "id" = ${lit(id)}`), prompt, 'the row as psql reads it');
    assert.equal((await generation(u.jar, 'qwen', id)).json().prompt, prompt, 'and as the module reads it');
});
