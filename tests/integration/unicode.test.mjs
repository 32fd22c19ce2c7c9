// Text beyond ASCII where a user's or a provider's text goes: JSON
// strings that are not UTF-8 or hold a NUL named as a form's fields are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REGISTRY, request } from './lib.mjs';
import { psql, lit, person, balanceOf, JSON_H, tag } from './generations.mjs';

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
