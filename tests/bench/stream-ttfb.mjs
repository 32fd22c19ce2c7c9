// The measuring half of tests/bench/stream-ttfb: a signed-in user asks
// POST /qwen/api/generate {"prompt","stream":true} through the gateway
// and, alternating with it, POST /compatible-mode/v1/chat/completions on
// the fake directly with the body the module sent; times the response
// headers, the first text delta and the end of each stream.
import * as L from '../integration/lib.mjs';
import * as B from './lib.mjs';

const SAMPLES = Number(process.argv[2] || 1000);
const WARMUP = Math.min(200, Math.max(50, Math.floor(SAMPLES / 10)));
const PROMPT = 'Stream a short greeting to the benchmark.';

const { jar, me } = await L.signedInUser('streambench');
const userId = B.checkId(me.id);
const gw = B.client(L.BASE);
const direct = B.client(B.FAKE_URL);
const gwHeaders = jar.headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream', Origin: L.ORIGIN });
const gwBody = JSON.stringify({ prompt: PROMPT, stream: true });
const gwFirst = (text) => text.includes('event: delta');
const directFirst = (text) => /"delta":\{"content":"[^"]/.test(text);

const viaGateway = async () => {
    const r = await gw('POST', '/qwen/api/generate', { headers: gwHeaders, body: gwBody, first: gwFirst });
    if (r.status !== 200 || !r.t.first || !r.text.includes('event: done')) {
        throw new Error(`gateway stream: ${r.status} ${r.text.slice(0, 300)}`);
    }
    return r;
};

const first = await viaGateway();
// the deltas put together: the fake's reply, not the offline model's
const said = [...first.text.matchAll(/^event: delta\ndata: (.*)$/gm)].map((x) => JSON.parse(x[1]).text).join('');
if (!/^Fake reply/.test(said)) throw new Error(`qwen did not use the fake: ${said.slice(0, 300)}`);
B.grantCredits(userId, 10 * (SAMPLES + WARMUP) + 1000);

const last = (await B.fakeStats()).last['chat.dashscope'];
if (!last || !last.body || last.body.stream !== true) throw new Error('the fake saw no streamed DashScope chat call');
const directBody = JSON.stringify(last.body);
const directHeaders = {
    'Content-Type': 'application/json', Accept: 'text/event-stream',
    Authorization: `Bearer ${B.FAKE_KEY}`,
};
const viaDirect = async () => {
    const r = await direct('POST', '/compatible-mode/v1/chat/completions', { headers: directHeaders, body: directBody, first: directFirst });
    if (r.status !== 200 || !r.t.first || !r.text.includes('[DONE]')) throw new Error(`direct stream: ${r.status} ${r.text.slice(0, 300)}`);
    return r;
};

console.log(B.pgSettingsLine());
console.log(`fake stream interval ${process.env.FAKE_STREAM_INTERVAL_MS || 0} ms; module request body (${directBody.length} bytes): ${directBody}`);

for (let i = 0; i < WARMUP; i++) {
    await viaGateway();
    await viaDirect();
}
const g = { headers: [], first: [], end: [] };
const d = { headers: [], first: [], end: [] };
const paired = [];
for (let i = 0; i < SAMPLES; i++) {
    let a;
    let b;
    if (i % 2) {
        a = await viaGateway();
        b = await viaDirect();
    } else {
        b = await viaDirect();
        a = await viaGateway();
    }
    for (const [side, r] of [[g, a], [d, b]]) {
        side.headers.push(r.t.headers - r.t.start);
        side.first.push(r.t.first - r.t.start);
        side.end.push(r.t.end - r.t.start);
    }
    paired.push((a.t.first - a.t.start) - (b.t.first - b.t.start));
}
gw.close();
direct.close();

const total = 1 + WARMUP + SAMPLES;
const ok = Number(B.psql(`SELECT count(*) FROM "Generation" WHERE "userId" = '${userId}' AND "module" = 'qwen' AND "status" = 'succeeded'`));
if (ok !== total) throw new Error(`expected ${total} succeeded streamed generations, found ${ok}`);

const line = (name, s) => `${name.padEnd(34)} p50 ${B.ms(s.p50)}  p90 ${B.ms(s.p90)}  p99 ${B.ms(s.p99)}  mean ${B.ms(s.mean)} ms`;
console.log(`${SAMPLES} streams per side after ${WARMUP} warm-up pairs; ${total} generations recorded`);
console.log(line('gateway: headers', B.summary(g.headers)));
console.log(line('gateway: first delta (TTFB)', B.summary(g.first)));
console.log(line('gateway: whole stream', B.summary(g.end)));
console.log(line('direct: headers', B.summary(d.headers)));
console.log(line('direct: first content chunk (TTFB)', B.summary(d.first)));
console.log(line('direct: whole stream', B.summary(d.end)));
console.log(line('paired TTFB difference', B.summary(paired)));
const diff = B.median(g.first) - B.median(d.first);
console.log(`time to the first token: gateway ${B.ms(B.median(g.first))} ms, direct ${B.ms(B.median(d.first))} ms, added ${B.ms(diff)} ms at the median (median of paired differences ${B.ms(B.median(paired))} ms)`);
