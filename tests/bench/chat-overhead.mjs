// The measuring half of tests/bench/chat-overhead: a signed-in user with
// plenty of credits calls POST /openai/api/generate {"prompt"} through
// nginx (gateway: nginx, nano_auth, FastCGI, the module's debit and
// history record, its curl call to the fake) and, alternating with it,
// POST /v1/chat/completions on the fake directly with the body the
// module sent.  Both sides: sequential, one keep-alive connection each.
import path from 'node:path';
import * as L from '../integration/lib.mjs';
import * as B from './lib.mjs';
import * as T from './sched-trace.mjs';

const SAMPLES = Number(process.argv[2] || 2000);
// BENCH_TRACE=SECONDS (a diagnostic): after the samples, more pairs run
// under a scheduler trace, which then tells where a call's time went
const TRACE = Number(process.env.BENCH_TRACE || 0);
const WARMUP = Math.min(300, Math.max(50, Math.floor(SAMPLES / 10)));
const PROMPT = 'Say hello to the benchmark in one short sentence.';

const { jar, me } = await L.signedInUser('chatbench');
const userId = B.checkId(me.id);
const gw = B.client(L.BASE);
const direct = B.client(B.FAKE_URL);
const gwHeaders = jar.headers({ 'Content-Type': 'application/json', Origin: L.ORIGIN });
const gwBody = JSON.stringify({ prompt: PROMPT });

const viaGateway = async () => {
    const r = await gw('POST', '/openai/api/generate', { headers: gwHeaders, body: gwBody });
    if (r.status !== 200) throw new Error(`gateway answered ${r.status}: ${r.text.slice(0, 300)}`);
    return r;
};

// the first call makes the account; then credits for every sample
const first = await viaGateway();
const firstJson = JSON.parse(first.text);
if (!firstJson.text || !/Fake reply/.test(firstJson.text)) {
    throw new Error(`the openai module did not use the fake: ${first.text.slice(0, 300)}`);
}
B.grantCredits(userId, 10 * (SAMPLES + WARMUP) + 1000);

// what the module sent, to send the same directly
const last = (await B.fakeStats()).last['chat.openai'];
if (!last || !last.body) throw new Error('the fake saw no OpenAI chat call');
const directBody = JSON.stringify(last.body);
const directHeaders = {
    'Content-Type': 'application/json', Accept: 'application/json',
    Authorization: `Bearer ${B.FAKE_KEY}`,
};
const viaDirect = async () => {
    const r = await direct('POST', '/v1/chat/completions', { headers: directHeaders, body: directBody });
    if (r.status !== 200) throw new Error(`the fake answered ${r.status}: ${r.text.slice(0, 300)}`);
    return r;
};

console.log(B.pgSettingsLine());
console.log(`module request body (${directBody.length} bytes): ${directBody}`);

// BENCH_PG_LOG=1 (a diagnostic): PostgreSQL logs every statement's
// duration (logs/postgres.log) during the samples
if (process.env.BENCH_PG_LOG === '1') {
    B.psql("ALTER SYSTEM SET log_min_duration_statement = 0; SELECT pg_reload_conf();");
}

for (let i = 0; i < WARMUP; i++) {
    await viaGateway();
    await viaDirect();
}

// CPU time of each part of the stack: an idle second first (the job
// runners' claims, the fake's timers), then the samples
const procs = B.stackProcesses(process.env.NANO_TEST_STATE, ['openai']);
const idle0 = B.cpuNs(procs);
const idleT0 = B.nowMs();
await L.sleep(2000);
const idle1 = B.cpuNs(procs);
const idleMs = B.nowMs() - idleT0;

const g = [];
const d = [];
const paired = [];
const cpu0 = B.cpuNs(procs);
const node0 = process.cpuUsage();
const runT0 = B.nowMs();
for (let i = 0; i < SAMPLES; i++) {
    // the order alternates, so neither side always follows the other
    let a;
    let b;
    if (i % 2) {
        a = await viaGateway();
        b = await viaDirect();
    } else {
        b = await viaDirect();
        a = await viaGateway();
    }
    const tg = a.t.end - a.t.start;
    const td = b.t.end - b.t.start;
    g.push(tg);
    d.push(td);
    paired.push(tg - td);
}
const cpu1 = B.cpuNs(procs);
const nodeCpu = process.cpuUsage(node0);
const runMs = B.nowMs() - runT0;

// every sample was a real generation: debited once, recorded succeeded
const rows = B.psql(`SELECT count(*) FILTER (WHERE "status" = 'succeeded') || ' ' || count(*)
    FROM "Generation" WHERE "userId" = '${userId}' AND "module" = 'openai'`).split(' ').map(Number);
const debits = Number(B.psql(`SELECT count(*) FROM "CreditLedger" WHERE "userId" = '${userId}' AND "reason" = 'debit'`));
const total = 1 + WARMUP + SAMPLES;
if (rows[0] !== total || rows[1] !== total || debits !== total) {
    throw new Error(`expected ${total} succeeded generations and debits, found ${rows} / ${debits}`);
}

const sg = B.summary(g);
const sd = B.summary(d);
const sp = B.summary(paired);
const line = (name, s) => `${name.padEnd(26)} p50 ${B.ms(s.p50)}  p90 ${B.ms(s.p90)}  p99 ${B.ms(s.p99)}  mean ${B.ms(s.mean)}  max ${B.ms(s.max, 1)} ms`;
console.log(`${SAMPLES} samples per side after ${WARMUP} warm-up pairs; ${total} generations recorded, ${debits} debits`);
console.log(line('gateway (nginx+module)', sg));
console.log(line('direct (fake)', sd));
console.log(line('paired difference', sp));
// drift: the history grows by one row per call
const q = Math.floor(SAMPLES / 4);
const quarters = [0, 1, 2, 3].map((k) => B.median(paired.slice(k * q, (k + 1) * q)));
console.log(`paired difference by quarter (p50): ${quarters.map((x) => B.ms(x)).join(' ')} ms`);
const added = sg.p50 - sd.p50;
console.log(`added at the median: ${B.ms(added)} ms (median of paired differences ${B.ms(sp.p50)} ms); goal <= 1.000 ms: ${added <= 1 ? 'met' : 'missed'}`);
// the machine's speed moves both sides: the same figure against the
// direct call measured in this run, to compare runs at different moments
console.log(`added / direct at the median: ${(added / sd.p50).toFixed(2)} (gateway / direct ${(sg.p50 / sd.p50).toFixed(2)})`);

// CPU per gateway call, less what the same processes spend idle
const per = (k) => ((cpu1[k] - cpu0[k]) - (idle1[k] - idle0[k]) * (runMs / idleMs)) / SAMPLES / 1000;
console.log(`CPU per call (us, idle rate subtracted): nginx workers ${per('nginx').toFixed(0)}, openai module ${per('openai').toFixed(0)},`
    + ` postgres ${per('postgres').toFixed(0)} (gateway side only); the fake ${per('fake').toFixed(0)} per pair (both sides),`
    + ` this client ${((nodeCpu.user + nodeCpu.system) / SAMPLES).toFixed(0)} per pair`);

if (TRACE > 0) {
    if (!T.available()) {
        console.log('trace: skipped, perf is missing (Debian: apt-get install linux-perf)');
    } else {
        const file = path.join(process.env.NANO_TEST_STATE, 'chat-trace.perf');
        let recording = true;
        const rec = T.record(file, TRACE).finally(() => { recording = false; });
        while (recording) {
            await viaGateway();
            await viaDirect();
        }
        await rec;
        const evs = T.script(file);
        const b = T.breakdown(T.calls(evs, 'nano-openai'));
        const w = T.wakeLatency(evs, 'nano-openai');
        const us = (x) => x.toFixed(0);
        console.log(`trace (${b.calls} gateway calls in ${TRACE} s, medians in us after nginx woke the module):`
            + ` admission sent at ${us(b.sent)}, debit answered at ${us(b.debit)}, provider at ${us(b.provider)},`
            + ` reply at ${us(b.reply)};`
            + ` the commit confirmed after the provider's answer in ${b.waited} calls (the module waiting ${us(b.wait)}),`
            + ` before it in ${b.before}`);
        console.log(`trace: woken by PostgreSQL, the module ran after a median ${us(w.other)} us on the other CPU`
            + ` (${w.nother} times), ${us(w.same)} us on the waker's (${w.nsame})`);
        const c = T.commitChain(evs, 'nano-openai');
        console.log(`trace: from the debit's answer to the commit's (${c.chains} calls, medians in us),`
            + ` PostgreSQL's backend took ${us(c.total)}: running ${us(c.run)}, waiting for a CPU ${us(c.runnable)},`
            + ` waiting for the disk ${us(c.disk)}`);
        const d = T.diskWrites(evs);
        const io = (k) => `${d[k].n} taking ${Number.isNaN(d[k].median) ? '-' : us(d[k].median)}`;
        console.log(`trace: the disk's requests (medians in us): WAL writes ${io('wal')},`
            + ` inode writes ${io('inode')}, cache flushes ${io('flush')}`);
    }
}
gw.close();
direct.close();
