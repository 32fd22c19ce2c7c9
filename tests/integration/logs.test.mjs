// What an operator reads of a failed request, from the logs alone.
// nginx gives every request an id ($request_id): the access log writes
// it (id=), the gateway passes it to the backend (NANO_REQUEST_ID), and
// the backend writes it, with the user, the method and the path, on
// every line it logs while it serves that request, so that a failure
// logged deep inside a request ("database error ...", a provider's
// refusal) says which request and whose it was, and the access log's 5xx
// line leads to it.  Until 2026-12-06 no id existed and a backend's
// lines named neither the request nor the user (found by the logs
// probe).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { STATE, REGISTRY, sleep } from './lib.mjs';
import { person, generate, tag } from './generations.mjs';

const ACCESS_LOG = `${STATE}/logs/nginx-access.log`;
const has = (m) => REGISTRY.some((r) => r.name === m);

// The lines of file after byte from that hold needle, once there is one
// (nginx and the backends write theirs after the answer went out).
async function linesWith(file, needle, from) {
    let lines = [];
    for (let i = 0; i < 60 && lines.length === 0; i++) {
        if (i) await sleep(50);
        lines = fs.readFileSync(file).subarray(from).toString('utf8')
            .split('\n').filter((l) => l.includes(needle));
    }
    return lines;
}

for (const m of ['qwen', 'grok'].filter(has)) {
    test(`${m}: a failed generate's access log line has an id, and the module's line for it names that id and the user`, async () => {
        const u = await person(`logs-${m}`);
        const log = `${STATE}/logs/${m}.log`;
        const accessFrom = fs.statSync(ACCESS_LOG).size;
        const logFrom = fs.statSync(log).size;

        const r = await generate(u.jar, m, { prompt: `logs [fake:500] ${tag()}` });
        assert.equal(r.status, 502, r.text);

        const access = await linesWith(ACCESS_LOG, `user=${u.id}`, accessFrom);
        const line = access.find((l) => l.includes(`"POST /${m}/api/generate HTTP/1.1" 502 `));
        assert.ok(line, `the access log's line: ${access.join('\n')}`);
        const id = line.match(/ id=([0-9a-f]{32})$/)?.[1];
        assert.ok(id, `the access log names the request's id: ${line}`);

        const lines = await linesWith(log, id, logFrom);
        assert.ok(lines.some((l) => l.includes(` info: POST /${m}/api/generate 502 `)
            && l.includes(` req=${id} user=${u.id}`)),
        `the module's line for the request names its id and user:\n${lines.join('\n')}`);
    });
}
