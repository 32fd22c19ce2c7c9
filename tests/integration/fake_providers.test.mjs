// The fake providers (tests/fakes/providers.mjs) against the C wire
// formats, without the stack: every request body here is built by the C
// code (build/bin/nano-provider request …), sent to the fake, and its
// answer read by the C parsers (nano-provider parse …).  So the fake
// validates what the clients send, and the clients read what the fake
// (modelled on the real APIs) answers: successes, each provider's auth
// error, validation errors, and the failure markers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFakeProviders } from '../fakes/start.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'build/bin/nano-provider');
const TASK_MS = 600;

let fake;

before(async () => {
    assert.ok(fs.existsSync(CLI), `${CLI} is missing: run make`);
    fake = await startFakeProviders({ taskMs: TASK_MS, streamIntervalMs: 5, imageSize: '32x24' });
});

after(async () => {
    await fake?.stop();
});

// The C request for provider: {path, body, async}.
function cRequest(provider, ...args) {
    return JSON.parse(execFileSync(CLI, ['request', provider, ...args], { encoding: 'utf8' }));
}

// The C parser's reading of body.
function cParse(provider, what, body, status = 200, retryAfter) {
    const args = ['parse', provider, what, '--status', String(status)];
    if (retryAfter !== undefined) args.push('--retry-after', String(retryAfter));
    return JSON.parse(execFileSync(CLI, args, { input: body, encoding: 'utf8' }));
}

// One raw HTTP exchange; a connection cut mid-body still resolves with
// what came (cut: true).
function call(method, p, { body, headers = {}, timeout = 10000 } = {}) {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return new Promise((resolve, reject) => {
        const started = Date.now();
        const req = http.request({
            host: '127.0.0.1', port: fake.port, method, path: p, agent: false,
            headers: { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}), ...headers },
        }, (res) => {
            const chunks = [];
            let cut = false;
            res.on('data', (c) => chunks.push(c));
            res.on('aborted', () => { cut = true; });
            res.on('error', () => { cut = true; });
            res.on('close', () => resolve({
                status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks),
                text: Buffer.concat(chunks).toString('utf8'), cut: cut || !res.complete, ms: Date.now() - started,
            }));
        });
        req.setTimeout(timeout, () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end(data);
    });
}

const auth = (key = fake.key) => ({ Authorization: `Bearer ${key}` });
const goog = (key = fake.key) => ({ 'x-goog-api-key': key });

// Sends the C request for provider to the fake; returns the answer.
async function send(provider, args, headers, base = '') {
    const r = cRequest(provider, ...args);
    return call('POST', base + r.path, {
        body: r.body, headers: { ...headers, ...(r.async ? { 'X-DashScope-Async': 'enable' } : {}) },
    });
}

test('gemini: the C request is accepted, the PNG answer read; auth, validation and markers', async () => {
    let a = await send('gemini', ['--prompt', 'a banana', '--aspect', '16:9'], goog());
    assert.equal(a.status, 200, a.text);
    let p = cParse('gemini', 'response', a.body);
    assert.equal(p.ok, true, JSON.stringify(p));
    assert.equal(p.mime, 'image/png');
    assert.ok(p.bytes > 50);

    // an input image to edit travels as inline_data
    const img = path.join(ROOT, 'build/tests/fake-input.png');
    fs.mkdirSync(path.dirname(img), { recursive: true });
    fs.writeFileSync(img, Buffer.from('89504e470d0a1a0a', 'hex'));
    a = await send('gemini', ['--prompt', 'make it blue', '--image', img, '--mime', 'image/png'], goog());
    assert.equal(a.status, 200, a.text);
    const last = (await fake.stats()).last['gemini.generateContent'];
    assert.equal(last.body.contents[0].parts[1].inline_data.mime_type, 'image/png');
    assert.equal(last.headers['x-goog-api-key'], undefined, 'the key is not kept in stats');

    a = await send('gemini', ['--prompt', 'x'], goog('wrong-key'));
    assert.equal(a.status, 400);
    p = cParse('gemini', 'error', a.body, a.status);
    assert.deepEqual([p.code, p.message], ['provider_auth', 'Gemini refused the API key (HTTP 400); check GEMINI_API_KEY']);
    a = await send('gemini', ['--prompt', 'x'], {});
    assert.equal(a.status, 403);
    assert.equal(cParse('gemini', 'error', a.body, a.status).code, 'provider_auth');

    a = await call('POST', '/v1beta/models/gemini-2.5-flash-image:generateContent', {
        headers: goog(), body: { contents: [{ parts: [{ text: 'x' }] }], generationConfig: { imageConfig: { aspectRatio: '7:3' } } },
    });
    assert.equal(a.status, 400);
    assert.equal(JSON.parse(a.text).error.status, 'INVALID_ARGUMENT');
    assert.equal(cParse('gemini', 'error', a.body, a.status).code, 'bad_request');

    const cases = [
        ['[fake:429]', 'provider_quota', true, 1000],
        ['[fake:500]', 'provider_error', true, 0],
        ['[fake:bad-request]', 'bad_request', false, 0],
    ];
    for (const [marker, code, retryable, retryMs] of cases) {
        a = await send('gemini', ['--prompt', `a cat ${marker}`], goog());
        p = cParse('gemini', 'error', a.body, a.status);
        assert.deepEqual([p.code, p.retryable, p.retryAfterMs], [code, retryable, retryMs], `${marker}: ${a.text}`);
    }
    for (const [marker, code, message] of [
        ['[fake:safety]', 'blocked', 'Gemini\'s safety filter stopped the image (IMAGE_SAFETY)'],
        ['[fake:block-prompt]', 'blocked', 'Gemini\'s safety filter blocked the prompt (PROHIBITED_CONTENT)'],
        ['[fake:no-image]', 'bad_response', 'Gemini answered without an image (STOP): I can describe it, but here is no picture'],
        ['[fake:malformed]', 'bad_response', 'Gemini\'s answer is not JSON'],
    ]) {
        a = await send('gemini', ['--prompt', `a cat ${marker}`], goog());
        assert.equal(a.status, 200);
        p = cParse('gemini', 'response', a.body);
        assert.deepEqual([p.code, p.message], [code, message], marker);
    }
    // fails once, then succeeds: what a retry needs
    a = await send('gemini', ['--prompt', 'once [fake:503-once]'], goog());
    assert.equal(a.status, 503);
    assert.equal(cParse('gemini', 'error', a.body, a.status).retryable, true);
    a = await send('gemini', ['--prompt', 'once [fake:503-once]'], goog());
    assert.equal(a.status, 200);
});

test('ark: b64_json and url answers (the url served), auth, size validation, sensitive content', async () => {
    let a = await send('ark', ['--prompt', 'a fox', '--size', '2048x2048'], auth());
    assert.equal(a.status, 200, a.text);
    let p = cParse('ark', 'response', a.body);
    assert.equal(p.ok, true, JSON.stringify(p));
    assert.ok(p.bytes > 50);
    assert.deepEqual([p.width, p.height], [2048, 2048]);

    a = await send('ark', ['--prompt', 'a fox', '--url'], auth());
    p = cParse('ark', 'response', a.body);
    assert.equal(p.ok, true);
    assert.match(p.url, /^http:\/\/127\.0\.0\.1:\d+\/_fake\/files\//);
    const file = await call('GET', new URL(p.url).pathname);
    assert.equal(file.status, 200);
    assert.equal(file.headers['content-type'], 'image/png');
    assert.deepEqual([...file.body.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.equal((await fake.stats()).last.files.authScheme, null);

    // [fake:url]: a url although the C request asks for b64_json
    assert.equal(cRequest('ark', '--prompt', 'x').body.response_format, 'b64_json');
    a = await send('ark', ['--prompt', 'a fox [fake:url]'], auth());
    assert.equal((await fake.stats()).last['ark.images'].authScheme, 'Bearer');
    p = cParse('ark', 'response', a.body);
    assert.equal(p.ok, true, JSON.stringify(p));
    assert.match(p.url, /^http:\/\/127\.0\.0\.1:\d+\/_fake\/files\/.+\.png$/);
    assert.ok(!JSON.parse(a.text).data[0].b64_json, 'no b64_json beside the url');
    assert.ok((await call('GET', new URL(p.url).pathname)).body.equals(file.body), 'the same PNG');

    a = await send('ark', ['--prompt', 'a fox'], auth('nope'));
    assert.equal(a.status, 401);
    p = cParse('ark', 'error', a.body, a.status);
    assert.deepEqual([p.code, p.message], ['provider_auth', 'Ark refused the API key (HTTP 401); check ARK_API_KEY']);

    a = await call('POST', '/api/v3/images/generations', { headers: auth(), body: { model: 'seedream-4-0-250828', prompt: 'x', size: '100x100' } });
    assert.equal(a.status, 400);
    assert.equal(JSON.parse(a.text).error.code, 'InvalidParameter');
    assert.equal(cParse('ark', 'error', a.body, a.status).code, 'bad_request');

    a = await send('ark', ['--prompt', 'bad [fake:safety]'], auth());
    p = cParse('ark', 'error', a.body, a.status);
    assert.deepEqual([p.code, p.message], ['blocked', 'Ark\'s content check refused the request (InputTextSensitiveContentDetected)']);
    a = await send('ark', ['--prompt', 'bad [fake:safety-output]'], auth());
    assert.equal(cParse('ark', 'response', a.body).code, 'blocked');
    a = await send('ark', ['--prompt', 'x [fake:429]'], auth());
    p = cParse('ark', 'error', a.body, a.status, a.headers['retry-after']);
    assert.deepEqual([p.code, p.retryable, p.retryAfterMs], ['provider_quota', true, 1000]);
});

const CHAT = [
    ['openai', '/v1', 401, 'OpenAI refused the API key (HTTP 401); check OPENAI_API_KEY'],
    ['xai', '/xai/v1', 400, 'xAI refused the API key (HTTP 400); check XAI_API_KEY'],
    ['dashscope', '', 401, 'DashScope refused the API key (HTTP 401); check DASHSCOPE_API_KEY'],
];

for (const [flavor, base, authStatus, authMessage] of CHAT) {
    test(`chat ${flavor}: plain and streamed answers read by the C client; its auth error; markers`, async () => {
        let a = await send(flavor, ['--prompt', 'hello fake', '--model', 'm1'], auth(), base);
        assert.equal(a.status, 200, a.text);
        let p = cParse(flavor, 'response', a.body);
        assert.equal(p.ok, true, JSON.stringify(p));
        assert.match(p.text, /^Fake reply from m1: you said "hello fake"\./);
        assert.equal(p.finish, 'stop');

        a = await send(flavor, ['--prompt', 'hello fake', '--stream'], auth(), base);
        assert.equal(a.headers['content-type'], 'text/event-stream');
        p = cParse(flavor, 'stream', a.body);
        assert.equal(p.ok, true, JSON.stringify(p));
        assert.match(p.text, /you said "hello fake"/);
        assert.equal(p.done, true);
        assert.ok(p.total > 0, 'the usage chunk was read');

        a = await send(flavor, ['--prompt', 'x'], auth('sk-wrong-key-1234'), base);
        assert.equal(a.status, authStatus);
        p = cParse(flavor, 'error', a.body, a.status);
        assert.deepEqual([p.code, p.message], ['provider_auth', authMessage]);
        assert.ok(!p.message.includes('wrong'), 'no key in the message');

        a = await send(flavor, ['--prompt', 'x [fake:cut]', '--stream'], auth(), base);
        assert.equal(a.cut, true);
        p = cParse(flavor, 'stream', a.body);
        assert.equal(p.code, 'stream_cut');

        a = await send(flavor, ['--prompt', 'x [fake:error-in-stream]', '--stream'], auth(), base);
        p = cParse(flavor, 'stream', a.body);
        assert.equal(p.code, 'provider_error', JSON.stringify(p));
        assert.match(p.message, /failed during the answer/);

        a = await send(flavor, ['--prompt', 'x [fake:content-filter]', '--stream'], auth(), base);
        assert.equal(cParse(flavor, 'stream', a.body).code, 'blocked');
        a = await send(flavor, ['--prompt', 'x [fake:safety]'], auth(), base);
        // xAI names no code for it; its message "Content violates usage guidelines" is read
        assert.equal(cParse(flavor, 'error', a.body, a.status).code, 'blocked');

        a = await send(flavor, ['--prompt', 'x [fake:429]'], auth(), base);
        p = cParse(flavor, 'error', a.body, a.status, a.headers['retry-after']);
        assert.deepEqual([p.code, p.retryable, p.retryAfterMs], ['provider_quota', true, 1000]);

        a = await send(flavor, ['--prompt', 'x [fake:malformed]'], auth(), base);
        assert.equal(cParse(flavor, 'response', a.body).code, 'bad_response');
    });
}

// Gemini (a protocol buffer behind JSON) and OpenAI refuse a field name
// they do not know: a client that misspells one learns it here, not
// against the real API (until 2026-12-07 the fake ignored any).
test('gemini and openai: an unknown field name is a 400, as the real APIs answer; every C request is known', async () => {
    const G = '/v1beta/models/gemini-2.5-flash-image:generateContent';
    const text = { parts: [{ text: 'x' }] };
    for (const [body, description] of [
        [{ contents: [text], generationConfig: { responseModalities: ['IMAGE'], aspect_ratio: '1:1' } },
            'Invalid JSON payload received. Unknown name "aspect_ratio" at \'generation_config\': Cannot find field.'],
        [{ contents: [text], generationConfig: { imageConfig: { ratio: '1:1' } } },
            'Invalid JSON payload received. Unknown name "ratio" at \'generation_config.image_config\': Cannot find field.'],
        [{ contents: [text], seed: 7 }, 'Invalid JSON payload received. Unknown name "seed": Cannot find field.'],
        [{ contents: [{ parts: [{ text: 'x' }, { inline_data: { mime: 'image/png', data: 'iVBO' } }] }] },
            'Invalid JSON payload received. Unknown name "mime" at \'contents[0].parts[1].inline_data\': Cannot find field.'],
        [{ contents: [{ role: 'user', parts: [{ image: 'x' }] }] },
            'Invalid JSON payload received. Unknown name "image" at \'contents[0].parts[0]\': Cannot find field.'],
        [{ contents: [{ role: 'system', parts: [{ text: 'x' }] }] }, 'Please use a valid role: user, model.'],
        [{ contents: [text], generationConfig: { seed: 2147483648 } }, 'Invalid value at \'generation_config.seed\' (TYPE_INT32), 2147483648'],
    ]) {
        const a = await call('POST', G, { headers: goog(), body });
        assert.equal(a.status, 400, `${JSON.stringify(body)}: ${a.text}`);
        const e = JSON.parse(a.text).error;
        assert.deepEqual([e.status, e.message], ['INVALID_ARGUMENT', description]);
        assert.equal(cParse('gemini', 'error', a.body, a.status).code, 'bad_request');
    }
    // both spellings of a known name pass
    let a = await call('POST', G, {
        headers: goog(),
        body: { contents: [{ role: 'user', parts: [{ text: 'x' }] }], generation_config: { response_modalities: ['TEXT', 'IMAGE'], image_config: { aspect_ratio: '1:1' }, seed: 0 } },
    });
    assert.equal(a.status, 200, a.text);
    // what the C client sends, with every option
    const img = path.join(ROOT, 'build/tests/fake-input.png');
    fs.mkdirSync(path.dirname(img), { recursive: true });
    fs.writeFileSync(img, Buffer.from('89504e470d0a1a0a', 'hex'));
    a = await send('gemini', ['--prompt', 'x', '--aspect', '4:3', '--seed', '2147483647', '--image', img, '--mime', 'image/png'], goog());
    assert.equal(a.status, 200, a.text);

    a = await call('POST', '/v1/chat/completions', { headers: auth(), body: { model: 'm', messages: [{ role: 'user', content: 'x' }], max_output_tokens: 5 } });
    assert.equal(a.status, 400);
    assert.equal(JSON.parse(a.text).error.message, 'Unrecognized request argument supplied: max_output_tokens');
    assert.deepEqual(cParse('openai', 'error', a.body, a.status).code, 'bad_request');
    for (const stream of [[], ['--stream']]) {
        a = await send('openai', ['--prompt', 'x', '--seed', '3', ...stream], auth(), '/v1');
        assert.equal(a.status, 200, a.text);
    }
});

test('chat: validation like the real API (stream_options without stream, empty messages)', async () => {
    let a = await call('POST', '/v1/chat/completions', {
        headers: auth(), body: { model: 'm', messages: [{ role: 'user', content: 'x' }], stream_options: { include_usage: true } },
    });
    assert.equal(a.status, 400);
    assert.equal(JSON.parse(a.text).error.param, 'stream_options');
    let p = cParse('openai', 'error', a.body, a.status);
    assert.deepEqual([p.code, p.message], ['bad_request', 'OpenAI refused the request (HTTP 400): The \'stream_options\' parameter is only allowed when \'stream\' is enabled']);
    a = await call('POST', '/xai/v1/chat/completions', { headers: auth(), body: { model: 'm', messages: [] } });
    assert.equal(a.status, 400);
    assert.equal(typeof JSON.parse(a.text).error, 'string');
    p = cParse('xai', 'error', a.body, a.status);
    assert.equal(p.code, 'bad_request');
});

test('slow, hang and the pace of a stream', async () => {
    let a = await send('openai', ['--prompt', 'x [fake:slow=300]'], auth(), '/v1');
    assert.equal(a.status, 200);
    assert.ok(a.ms >= 290, `slow=300 answered after ${a.ms} ms`);
    await assert.rejects(call('POST', '/v1/chat/completions', {
        headers: auth(), timeout: 300,
        body: cRequest('openai', '--prompt', 'x [fake:hang]').body,
    }), /timeout/);
    // others are still answered
    a = await send('openai', ['--prompt', 'after the hang'], auth(), '/v1');
    assert.equal(a.status, 200);
    // a stream is paced: one chunk every streamIntervalMs (5 here)
    a = await send('openai', ['--prompt', 'pace', '--stream'], auth(), '/v1');
    const chunks = a.text.split('\n\n').filter((e) => e.includes('"content":"') && !e.includes('"content":""')).length;
    assert.ok(chunks >= 10 && a.ms >= chunks * 5 * 0.8, `${chunks} chunks in ${a.ms} ms`);
    const s = await fake.stats();
    assert.ok(s.maxInFlight >= 1);
    assert.ok(s.requests['chat.openai'] >= 3);
});

test('wan: submit once, poll PENDING -> RUNNING -> SUCCEEDED, download the WebM (ranges); failures', async () => {
    await fake.reset();
    let a = await send('wan', ['--prompt', 'a boat', '--size', '832*480', '--duration', '5', '--seed', '7'], auth());
    assert.equal(a.status, 200, a.text);
    const sub = cParse('wan', 'submit', a.body);
    assert.equal(sub.ok, true);
    const seen = [];
    let p;
    const t0 = Date.now();
    for (;;) {
        a = await call('GET', `/api/v1/tasks/${sub.taskId}`, { headers: auth() });
        p = cParse('wan', 'poll', a.body);
        assert.equal(p.ok, true, JSON.stringify(p));
        if (seen.at(-1) !== p.status) seen.push(p.status);
        if (p.status === 'SUCCEEDED') break;
        assert.ok(Date.now() - t0 < 5000, 'the task finishes');
        await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(seen, ['PENDING', 'RUNNING', 'SUCCEEDED']);
    assert.equal(p.duration, 5);
    const s = await fake.stats();
    assert.equal(s.requests['wan.submit'], 1, 'submitted once');
    assert.ok(s.requests['wan.poll'] >= 3);
    const v = await call('GET', new URL(p.videoUrl).pathname);
    assert.equal(v.status, 200);
    assert.equal(v.headers['content-type'], 'video/webm');
    assert.deepEqual([...v.body.subarray(0, 4)], [0x1a, 0x45, 0xdf, 0xa3]);
    const r = await call('GET', new URL(p.videoUrl).pathname, { headers: { Range: 'bytes=0-9' } });
    assert.equal(r.status, 206);
    assert.equal(r.body.length, 10);

    // failures
    a = await send('wan', ['--prompt', 'x'], auth('bad'));
    assert.equal(a.status, 401);
    assert.equal(cParse('wan', 'error', a.body, a.status).code, 'provider_auth');
    a = await call('POST', '/api/v1/services/aigc/video-generation/video-synthesis', {
        headers: auth(), body: cRequest('wan', '--prompt', 'x').body,
    });
    assert.equal(a.status, 403, 'no X-DashScope-Async');
    a = await call('POST', '/api/v1/services/aigc/video-generation/video-synthesis', {
        headers: { ...auth(), 'X-DashScope-Async': 'enable' }, body: { model: 'wan2.5-t2v-preview', input: { prompt: 'x' }, parameters: { size: '640*360' } },
    });
    assert.equal(a.status, 400);
    assert.equal(cParse('wan', 'error', a.body, a.status).code, 'bad_request');
    a = await send('wan', ['--prompt', 'x [fake:safety]'], auth());
    assert.equal(cParse('wan', 'error', a.body, a.status).code, 'blocked');
    a = await call('GET', '/api/v1/tasks/does-not-exist', { headers: auth() });
    assert.equal(cParse('wan', 'poll', a.body).message, 'DashScope does not know the video task (it may have expired)');
    for (const [marker, code] of [['[fake:fail-task]', 'provider_error'], ['[fake:safety-task]', 'blocked'], ['[fake:cancel-task]', 'provider_error']]) {
        a = await send('wan', ['--prompt', `x ${marker}`], auth());
        const id = cParse('wan', 'submit', a.body).taskId;
        await new Promise((res) => setTimeout(res, TASK_MS + 50));
        a = await call('GET', `/api/v1/tasks/${id}`, { headers: auth() });
        assert.equal(cParse('wan', 'poll', a.body).code, code, marker);
    }
});
