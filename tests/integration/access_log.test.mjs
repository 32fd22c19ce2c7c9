// What the logs keep of a request.  OAuth's callback carries the
// provider's authorization code and the state in its query: a code is a
// credential until it is redeemed (or its redemption fails), so the
// shipped access log format (nginx.conf.d/http.conf, $nano_log_request)
// keeps that path without its query; every other request is logged as it
// came.  Until 2026-12-06 the code was written to the access log, which
// is 0644 under `make run`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { STATE, get, sleep, stackctl, keepRunning, retry } from './lib.mjs';

keepRunning(['platform']);

const LOGS = `${STATE}/logs`;
const ACCESS_LOG = `${LOGS}/nginx-access.log`;

// The access log's lines holding tag, once there are at least n of them
// (nginx writes a line after the answer went out).
async function logLines(tag, n = 1, from = 0) {
    let lines = [];
    for (let i = 0; i < 60 && lines.length < n; i++) {
        if (i) await sleep(50);
        lines = fs.readFileSync(ACCESS_LOG).subarray(from).toString('utf8').split('\n').filter((l) => l.includes(tag));
    }
    return lines;
}

test('an OAuth callback\'s code and state are not written to any log; its path and status are', async () => {
    const code = `code-${crypto.randomBytes(12).toString('hex')}`;
    const state = `state-${crypto.randomBytes(12).toString('hex')}`;
    const from = fs.statSync(ACCESS_LOG).size;
    for (const provider of ['github', 'google']) {
        const res = await get(`/api/auth/callback/${provider}?code=${code}&state=${state}`);
        assert.ok(res.status >= 300 && res.status < 500, `${provider}: ${res.status}`);
    }
    const lines = await logLines('/api/auth/callback/', 2, from);
    assert.ok(lines.some((l) => l.includes('"GET /api/auth/callback/github?(not logged) HTTP/1.1" 302')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('"GET /api/auth/callback/google?(not logged) HTTP/1.1" 302')), lines.join('\n'));
    await sleep(200);
    for (const f of fs.readdirSync(LOGS)) {
        const text = fs.readFileSync(path.join(LOGS, f), 'utf8');
        assert.ok(!text.includes(code), `${f} holds the code`);
        assert.ok(!text.includes(state), `${f} holds the state`);
    }
});

test('a callback path written otherwise (doubled slashes, percent-encoded, a dot segment) keeps its code out of the logs too', async () => {
    // nginx routes each of these to the callback, and the platform reads
    // the code; the log's redaction matched the path as written (found by
    // the apiedges probe: the code was logged)
    const code = `code-${crypto.randomBytes(12).toString('hex')}`;
    const state = `state-${crypto.randomBytes(12).toString('hex')}`;
    const paths = ['//api/auth/callback/github', '/api//auth/callback/github', '/api/auth/%63allback/github',
        '/%61pi/auth/callback/github', '/api/x/../auth/callback/github'];
    const from = fs.statSync(ACCESS_LOG).size;
    for (const p of paths) {
        const res = await get(`${p}?code=${code}&state=${state}`);
        assert.ok(res.status >= 300 && res.status < 500, `${p}: ${res.status}`);
    }
    const lines = await logLines('(not logged)', paths.length, from);
    for (const p of paths) {
        assert.ok(lines.some((l) => l.includes(`"GET ${p}?(not logged) HTTP/1.1"`)), `${p}:\n${lines.join('\n')}`);
    }
    await sleep(200);
    for (const f of fs.readdirSync(LOGS)) {
        const text = fs.readFileSync(path.join(LOGS, f), 'utf8');
        assert.ok(!text.includes(code), `${f} holds the code`);
        assert.ok(!text.includes(state), `${f} holds the state`);
    }
    // another path keeps its query in the log
    const tag = `keep-${crypto.randomBytes(6).toString('hex')}`;
    await get(`/api/auth/providers?${tag}=1`);
    assert.equal((await logLines(tag, 1, from)).length, 1, 'the query of another path is logged');
});

test('a rate-limited OAuth callback\'s code and state are not written to the error log either', async () => {
    // nginx logs a request that limit_req refuses, request line and all,
    // to the error log at limit_req_log_level: the callbacks' location
    // sets info, below the error_log level a stack (notice) or a
    // packaged nginx (error) keeps (found by the sec2 probe).
    const code = `code-${crypto.randomBytes(12).toString('hex')}`;
    const state = `state-${crypto.randomBytes(12).toString('hex')}`;
    const client = `log-${crypto.randomBytes(6).toString('hex')}`;
    let limited = 0;
    for (let i = 0; i < 25 && limited < 3; i++) {
        const res = await get(`/api/auth/callback/github?code=${code}&state=${state}`,
            { headers: { 'X-Nano-Test-Client': client } });
        if (res.status === 429) limited++;
        else assert.ok(res.status >= 300 && res.status < 500, `callback ${i}: ${res.status}`);
    }
    assert.equal(limited, 3, 'the sign-in zone limits OAuth callbacks');
    const lines = await logLines(`" 429 `, 3);
    assert.ok(lines.some((l) => l.includes('"GET /api/auth/callback/github?(not logged) HTTP/1.1" 429')), lines.join('\n'));
    await sleep(200);
    for (const f of fs.readdirSync(LOGS)) {
        const text = fs.readFileSync(path.join(LOGS, f), 'utf8');
        assert.ok(!text.includes(code), `${f} holds the code`);
        assert.ok(!text.includes(state), `${f} holds the state`);
    }
});

test('an OAuth callback whose upstream failed: the error log says why, without its code and state', async () => {
    // nginx's error log names the request line of the request it logs an
    // error for, which no log_format controls: a callback answered 502
    // because the platform was down wrote the provider's code and the
    // state there (found by the endsserver probe).
    const code = `code-${crypto.randomBytes(12).toString('hex')}`;
    const state = `state-${crypto.randomBytes(12).toString('hex')}`;
    const errorLog = `${LOGS}/nginx-error.log`;
    const from = fs.statSync(errorLog).size;
    stackctl('stop-backend', 'platform');
    let res;
    try {
        res = await get(`/api/auth/callback/google?code=${code}&state=${state}`);
    } finally {
        stackctl('start-backend', 'platform');
    }
    assert.equal(res.status, 502);
    const text = fs.readFileSync(errorLog).subarray(from).toString('utf8');
    const line = text.split('\n').find((l) => l.includes('/api/auth/callback/google'));
    assert.ok(line, `the failure is logged:\n${text}`);
    assert.match(line, /\[(error|crit)\].*(connect\(\) (to .* )?failed|No such file)/, line);
    assert.ok(line.includes('request: "GET /api/auth/callback/google?(not logged) HTTP/1.1"'), line);
    assert.ok(await retry(async () => (await get('/api/auth/providers')).status === 200), 'the platform is back');
    await sleep(200);
    for (const f of fs.readdirSync(LOGS)) {
        const t = fs.readFileSync(path.join(LOGS, f), 'utf8');
        assert.ok(!t.includes(code), `${f} holds the code`);
        assert.ok(!t.includes(state), `${f} holds the state`);
    }
});

test('other requests are logged with their query, and a callback without one as it came', async () => {
    const tag = crypto.randomBytes(8).toString('hex');
    await get(`/api/auth/signin?callbackUrl=%2F${tag}`);
    await get(`/api/auth/callback/github/${tag}`);
    const lines = await logLines(tag, 2);
    assert.ok(lines.some((l) => l.includes(`"GET /api/auth/signin?callbackUrl=%2F${tag} HTTP/1.1"`)), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes(`"GET /api/auth/callback/github/${tag} HTTP/1.1"`)), lines.join('\n'));
});
