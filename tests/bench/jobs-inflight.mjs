// The measuring half of tests/bench/jobs-inflight: JOBS image generations
// submitted at once by several signed-in users to one nano-banana process,
// whose runner sends them all to the fake (2 s, FAKE_IMAGE_BYTES each:
// 100 KiB);
// wall time from the first submit to the last success (the rows'
// "finishedAt"), the process's RSS and threads sampled from /proc every
// 10 ms, the fake's maxInFlight.  ROUNDS rounds on the same stack.
import fs from 'node:fs';
import * as L from '../integration/lib.mjs';
import * as B from './lib.mjs';

const JOBS = Number(process.argv[2] || 200);
const ROUNDS = Number(process.argv[3] || 3);
const PER_USER = Number(process.env.NANO_MAX_INFLIGHT_PER_USER || 16);
const USERS = Math.ceil(JOBS / PER_USER);
const MODULE = 'nano-banana';
const BYTES = Number(process.env.FAKE_IMAGE_BYTES || 102400);

const pid = L.stackPid(MODULE);
if (!pid || !L.alive(pid)) throw new Error(`no ${MODULE} process`);

function status() {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s) || [])[1]);
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), threads: kb('Threads') };
}

function cpuMs() {
    let ns = 0;
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
        try {
            ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
        } catch { /* a thread that ended */ }
    }
    return ns / 1e6;
}

const fds = () => fs.readdirSync(`/proc/${pid}/fd`).length;

console.log(B.pgSettingsLine());
const users = [];
for (let i = 0; i < USERS; i++) {
    const { jar, me } = await L.signedInUser(`jobs${i}`);
    B.grantCredits(B.checkId(me.id), 10000);
    users.push({ jar, id: me.id });
}
const send = B.client(L.BASE, { sockets: 64 });
const submit = (i) => {
    const u = users[i % USERS];
    return send('POST', `/${MODULE}/api/generate`, {
        headers: u.jar.headers({ 'Content-Type': 'application/json', Origin: L.ORIGIN }),
        body: JSON.stringify({ prompt: `a benchmark banana, number ${i}` }),
    });
};

// one generation first: the module's provider is the fake (not offline)
{
    const r = await submit(0);
    if (r.status !== 202) throw new Error(`generate answered ${r.status}: ${r.text}`);
    const id = JSON.parse(r.text).id;
    await L.retry(() => B.psql(`SELECT "status" FROM "Generation" WHERE "id" = '${id}'`) === 'succeeded', 15000, 100);
    const row = B.psql(`SELECT "offline" || ' ' || ("outputs"->0->>'bytes') FROM "Generation" WHERE "id" = '${id}'`);
    if (row !== `false ${BYTES}`) throw new Error(`the first generation is not a ${BYTES}-byte image from the fake: ${row}`);
}
const before = status();
console.log(`${MODULE} (pid ${pid}) before: VmRSS ${before.rss} kB, VmHWM ${before.hwm} kB, ${before.threads} threads, ${fds()} fds; ${USERS} users, ${JOBS} jobs per round`);

const results = [];
for (let round = 1; round <= ROUNDS; round++) {
    await B.fakeReset();
    let peakRss = 0;
    let peakThreads = 0;
    let peakFds = 0;
    const sampler = setInterval(() => {
        const s = status();
        peakRss = Math.max(peakRss, s.rss);
        peakThreads = Math.max(peakThreads, s.threads);
        peakFds = Math.max(peakFds, fds());
    }, 10);
    const cpu0 = cpuMs();
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: JOBS }, (_, i) => submit(i)));
    const tSubmitted = Date.now() - t0;
    const bad = answers.filter((r) => r.status !== 202);
    if (bad.length) throw new Error(`${bad.length} submits refused, e.g. ${bad[0].status} ${bad[0].text}`);
    const ids = answers.map((r) => JSON.parse(r.text).id);
    const list = ids.map((id) => `'${B.checkId(id)}'`).join(',');
    let done;
    const deadline = Date.now() + 60000;
    for (;;) {
        done = B.psql(`SELECT count(*) FILTER (WHERE "status" = 'succeeded') || ' ' || count(*) FILTER (WHERE "status" IN ('failed', 'canceled'))
            FROM "Generation" WHERE "id" IN (${list})`).split(' ').map(Number);
        if (done[0] + done[1] === JOBS || Date.now() > deadline) break;
        await L.sleep(50);
    }
    clearInterval(sampler);
    const cpu = cpuMs() - cpu0;
    const after = status();
    const stats = await B.fakeStats();
    if (done[0] !== JOBS) throw new Error(`round ${round}: ${done[0]} succeeded, ${done[1]} failed of ${JOBS}`);
    const epoch = (col, agg) => `${agg}(extract(epoch FROM "${col}" AT TIME ZONE 'utc') * 1000)::bigint`;
    const [firstStart, lastStart, firstEnd, lastEnd, sizes] = B.psql(`SELECT ${epoch('startedAt', 'min')} || ' ' || ${epoch('startedAt', 'max')}
        || ' ' || ${epoch('finishedAt', 'min')} || ' ' || ${epoch('finishedAt', 'max')}
        || ' ' || count(*) FILTER (WHERE ("outputs"->0->>'bytes')::int = ${BYTES} AND NOT "offline")
        FROM "Generation" WHERE "id" IN (${list})`).split(' ').map(Number);
    if (sizes !== JOBS) throw new Error(`round ${round}: only ${sizes} rows hold a ${BYTES}-byte image from the fake`);
    const r = {
        round, wall: lastEnd - t0, submitted: tSubmitted, claimedFirst: firstStart - t0, claimedLast: lastStart - t0,
        firstDone: firstEnd - t0, peakRss, hwm: after.hwm, peakThreads, peakFds, cpu,
        maxInFlight: stats.maxInFlight, calls: stats.requests['gemini.generateContent'] || 0,
    };
    results.push(r);
    console.log(`round ${round}: ${JOBS} succeeded, wall ${r.wall} ms from the first submit to the last success`
        + ` (all ${JOBS} accepted by ${r.submitted} ms, claimed ${r.claimedFirst}..${r.claimedLast} ms, finished ${r.firstDone}..${r.wall} ms);`
        + ` fake maxInFlight ${r.maxInFlight} (${r.calls} calls); ${MODULE}: peak VmRSS ${r.peakRss} kB, VmHWM ${r.hwm} kB,`
        + ` peak threads ${r.peakThreads}, peak fds ${r.peakFds}, CPU ${r.cpu.toFixed(0)} ms`);
    await L.sleep(500);
}
send.close();

const med = (k) => B.median(results.map((r) => r[k]));
console.log(`median of ${ROUNDS} rounds: wall ${med('wall')} ms (goal <= 4000 ms: ${med('wall') <= 4000 ? 'met' : 'missed'}),`
    + ` fake maxInFlight ${med('maxInFlight')}, peak VmRSS ${med('peakRss')} kB (VmHWM ${Math.max(...results.map((r) => r.hwm))} kB),`
    + ` peak threads ${Math.max(...results.map((r) => r.peakThreads))}`);
