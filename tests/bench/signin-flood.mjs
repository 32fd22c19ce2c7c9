// The measuring half of tests/bench/signin-flood: one signed-in user
// probes GET /api/auth/csrf and GET /api/auth/session one after the
// other, first on an idle platform, then while wrk keeps 80 wrong
// sign-ins for distinct emails in flight (signin-flood.lua); prints
// p50/p99 of both phases.
import { spawn } from 'node:child_process';
import * as L from '../integration/lib.mjs';

const secs = Number(process.argv[2] || 15);
const FLOOD = 80;

function pct(sorted, p) {
    return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function stats(lat) {
    lat.sort((a, b) => a - b);
    return { n: lat.length, p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: lat[lat.length - 1] };
}

// -> {all, csrf, session, failed}: latencies in ms
async function probe(jar, ms) {
    const by = { '/api/auth/csrf': [], '/api/auth/session': [] };
    const end = Date.now() + ms;
    let failed = 0;
    for (let i = 0; Date.now() < end; i++) {
        const path = i % 2 ? '/api/auth/session' : '/api/auth/csrf';
        const t = process.hrtime.bigint();
        const r = await L.get(path, { headers: jar.headers() });
        by[path].push(Number(process.hrtime.bigint() - t) / 1e6);
        if (r.status !== 200) failed++;
    }
    return {
        ...stats([...by['/api/auth/csrf'], ...by['/api/auth/session']]),
        csrf: stats(by['/api/auth/csrf']), session: stats(by['/api/auth/session']), failed,
    };
}

// wrk with FLOOD connections for ms; resolves with its summary line.
async function flood(ms) {
    const fjar = new L.Jar();
    const token = await L.csrf(fjar);
    const child = spawn('wrk', ['-t1', `-c${FLOOD}`, `-d${Math.ceil(ms / 1000)}s`,
        '-s', new URL('./signin-flood.lua', import.meta.url).pathname, L.BASE], {
        env: { ...process.env, FLOOD_CSRF_COOKIE: fjar.header(), FLOOD_CSRF_TOKEN: token, FLOOD_ORIGIN: L.ORIGIN },
        stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    return new Promise((resolve) => child.on('close', () => resolve((out.match(/^flood:.*$/m) || [out])[0])));
}

const { jar } = await L.signedInUser('bench');
await probe(jar, 1000);                         // warm up
const idle = await probe(jar, secs * 1000);

const flooding = flood(secs * 1000 + 2000);
await L.sleep(1000);                            // let the flood build up
const busy = await probe(jar, secs * 1000);
const summary = await flooding;

const f = (x) => x.toFixed(1).padStart(7);
const line = (name, s) => `${name.padEnd(14)} ${String(s.n).padStart(5)} probes  p50 ${f(s.p50)} ms  p99 ${f(s.p99)} ms  max ${f(s.max)} ms`;
for (const [phase, s] of [['idle', idle], ['flood', busy]]) {
    console.log(line(`${phase}`, s) + `  non-200 ${s.failed}`);
    console.log(line(`  csrf`, s.csrf));
    console.log(line(`  session`, s.session));
}
console.log(summary);
console.log(`csrf+session p99 under a flood of ${FLOOD} wrong sign-ins: ${busy.p99.toFixed(1)} ms (idle ${idle.p99.toFixed(1)} ms, ratio ${(busy.p99 / idle.p99).toFixed(2)}; goal < 100 ms)`);
