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
import {
    person, generate, tag, oneJob, waitFor, withBackendEnv, psql, lit, FAKE_KEY,
} from './generations.mjs';

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

        // the needle is the line itself: person()'s own request may be
        // logged after accessFrom was read, and would end the wait early
        const access = await linesWith(ACCESS_LOG, `"POST /${m}/api/generate HTTP/1.1" 502 `, accessFrom);
        const line = access.find((l) => l.includes(`user=${u.id}`));
        assert.ok(line, `the access log's line: ${access.join('\n')}`);
        const id = line.match(/ id=([0-9a-f]{32})$/)?.[1];
        assert.ok(id, `the access log names the request's id: ${line}`);

        const lines = await linesWith(log, id, logFrom);
        assert.ok(lines.some((l) => l.includes(` warn: POST /${m}/api/generate 502 `)
            && l.includes(` req=${id} user=${u.id}`)),
        `the module's line for the request, a warning as a 5xx, names its id and user:\n${lines.join('\n')}`);
        // the failure itself, with the provider's status and words, logged
        // while the request was served (until 2026-12-06 only the 502)
        const cause = lines.filter((l) => l.includes(` warn: generation ${r.json().id} failed (provider_error): `));
        assert.equal(cause.length, 1, `the failure's own line:\n${lines.join('\n')}`);
        assert.match(cause[0], /\(HTTP 500\)/, cause[0]);
        assert.ok(cause[0].endsWith(` [req=${id} user=${u.id} POST /${m}/api/generate]`), cause[0]);
    });
}

// A job that fails on the provider's refusal of the key: the operator's
// to fix, so an error line, with the provider's words (never the key);
// one a person's request caused (a refused prompt) is an info line.
// Until 2026-12-06 both were "job <id> failed (<code>)" at info.
for (const m of ['nano-banana'].filter(has)) {
    test(`${m}: a job's failure is logged once, at its code's level, with the provider's words and not the key`, async () => {
        const log = `${STATE}/logs/${m}.log`;
        const from = fs.statSync(log).size;
        const auth = await oneJob(m, 'logs-auth', 'logs [fake:auth]');
        assert.equal(auth.g.error?.code, 'provider_auth', JSON.stringify(auth.g));
        const bad = await oneJob(m, 'logs-bad', 'logs [fake:bad-request]');
        assert.equal(bad.g.error?.code, 'bad_request', JSON.stringify(bad.g));

        const authLines = await linesWith(log, `job ${auth.id} failed`, from);
        assert.equal(authLines.length, 1, authLines.join('\n'));
        assert.ok(authLines[0].includes(` error: job ${auth.id} failed (provider_auth): ${auth.g.error.message}`), authLines[0]);
        const badLines = await linesWith(log, `job ${bad.id} failed`, from);
        assert.equal(badLines.length, 1, badLines.join('\n'));
        assert.ok(badLines[0].includes(` info: job ${bad.id} failed (bad_request): ${bad.g.error.message}`), badLines[0]);
        assert.ok(!fs.readFileSync(log).subarray(from).toString('utf8').includes(FAKE_KEY), 'the key in the log');
    });
}

// A job's way from its request to its end, one line each: queued (with
// the request's id, so the access log's 202 leads to it), claimed,
// ended.  A job taken over after another runner's lease ran out says so,
// and whose lease it was.  Until 2026-12-06 neither the admission nor a
// claim was logged: a job's lines did not lead back to its request, and
// a takeover was silent unless the job was in its provider call.
for (const m of ['nano-banana'].filter(has)) {
    test(`${m}: a job's lines lead back to its request: queued with the request's id, claimed once, ended once`, async () => {
        const log = `${STATE}/logs/${m}.log`;
        const from = fs.statSync(log).size;
        const accessFrom = fs.statSync(ACCESS_LOG).size;
        const u = await person('logs-chain');
        const r = await generate(u.jar, m, { prompt: `logs chain ${tag()}` });
        assert.equal(r.status, 202, r.text);
        const gid = r.json().id;
        const g = await waitFor(u.jar, m, gid);
        assert.equal(g.status, 'succeeded', JSON.stringify(g));

        const access = (await linesWith(ACCESS_LOG, `"POST /${m}/api/generate HTTP/1.1" 202 `, accessFrom))
            .find((l) => l.includes(`user=${u.id}`));
        const id = access?.match(/ id=([0-9a-f]{32})$/)?.[1];
        assert.ok(id, `the access log's line: ${access}`);
        await linesWith(log, `job ${gid} succeeded`, from);
        const lines = (await linesWith(log, gid, from));
        const one = (what) => lines.filter((l) => l.includes(`job ${gid} ${what}`));
        assert.equal(one('queued').length, 1, lines.join('\n'));
        assert.ok(one('queued')[0].endsWith(` [req=${id} user=${u.id} POST /${m}/api/generate]`), one('queued')[0]);
        assert.equal(one('claimed').length, 1, lines.join('\n'));
        assert.ok(one('claimed')[0].includes(' info: '), one('claimed')[0]);
        assert.equal(one('succeeded').length, 1, lines.join('\n'));
    });

    test(`${m}: a job taken over after another runner's lease ran out is logged as such, naming that runner`, async () => {
        const u = await person('logs-takeover');
        let gid;
        await withBackendEnv(m, ['NANO_JOBS_MAX=0'], async () => {
            const r = await generate(u.jar, m, { prompt: `logs takeover ${tag()}` });
            assert.equal(r.status, 202, r.text);
            gid = r.json().id;
            // another host's, its lease run out before its call
            psql(`UPDATE "Generation" SET "status" = 'running', "leaseOwner" = 'dead-host:1:0000000000000000',
                "leaseUntil" = extract(epoch FROM clock_timestamp())::bigint - 5,
                "startedAt" = (now() AT TIME ZONE 'utc') WHERE "id" = ${lit(gid)}`);
        });
        const log = `${STATE}/logs/${m}.log`;
        const g = await waitFor(u.jar, m, gid);
        assert.equal(g.status, 'succeeded', JSON.stringify(g));
        const lines = (await linesWith(log, `job ${gid} succeeded`, 0)).length
            ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(`job ${gid} claimed`)) : [];
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.ok(lines[0].includes(` warn: job ${gid} claimed: taken over from dead-host:1:0000000000000000, whose lease ran out`), lines[0]);
    });
}
