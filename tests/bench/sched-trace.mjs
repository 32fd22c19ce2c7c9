// Where a chat call's time goes, read from the scheduler rather than
// from timers inside the code (chat-overhead's BENCH_TRACE): `perf`
// records every wake-up on the machine for a few seconds; for each call,
// who woke the module's handling thread and when tells the steps apart:
// nginx hands it the request, PostgreSQL the debit's answer, the fake
// (node) the provider's answer, PostgreSQL again the commit, and the
// module wakes nginx with the reply.  Needs perf (Debian: linux-perf) and
// root.
import { spawn, spawnSync } from 'node:child_process';
import { median } from './lib.mjs';

// Starts a system-wide record of SECONDS into FILE; resolves when perf
// ends (it ends by itself).
export function record(file, seconds) {
    return new Promise((resolve, reject) => {
        const p = spawn('perf', ['record', '-q', '-a', '-o', file,
            '-e', 'sched:sched_waking', '-e', 'sched:sched_switch',
            '--', 'sleep', String(seconds)], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (c) => { err += c; });
        p.on('error', reject);
        p.on('close', (code) => (code === 0 ? resolve()
            : reject(new Error(`perf record failed (${code}): ${err.slice(0, 300)}`))));
    });
}

export function available() {
    return spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0;
}

// `perf script` of FILE: "  comm  tid [cpu] secs: sched:EVENT: ..."
export function script(file) {
    const out = spawnSync('perf', ['script', '-i', file, '-F', 'comm,tid,cpu,time,event,trace'],
        { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (out.status !== 0) throw new Error(`perf script failed: ${out.stderr.slice(0, 300)}`);
    return out.stdout;
}

const HEAD = /^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+): sched:(sched_waking|sched_switch): (.*)$/;
const WAKING = /^comm=(.+?) pid=(\d+)/;
const SWITCH = /next_comm=(.+?) next_pid=(\d+)/;

function* events(text) {
    for (const l of text.split('\n')) {
        const m = HEAD.exec(l);
        if (!m) continue;
        const [, comm, tid, cpu, secs, event, rest] = m;
        const e = { comm, tid, cpu, t: Number(secs) * 1e6, event };
        const r = (event === 'sched_waking' ? WAKING : SWITCH).exec(rest);
        if (!r) continue;
        [, e.target, e.ttid] = r;
        yield e;
    }
}

// The wake-ups of the module's threads (comm `module`), and the module's
// own wake-ups of nginx and PostgreSQL: per call, the times (µs after
// nginx woke the thread) of each step.
export function calls(text, module) {
    const open = new Map();
    const done = [];
    for (const e of events(text)) {
        if (e.event !== 'sched_waking') continue;
        if (e.target === module) {
            const who = { nginx: 'nginx', postgres: 'pg', node: 'fake' }[e.comm] || e.comm;
            if (who === 'nginx') {
                if (open.has(e.ttid)) done.push(open.get(e.ttid));
                open.set(e.ttid, [{ t: e.t, who: 'start' }]);
            } else if (open.has(e.ttid)) {
                open.get(e.ttid).push({ t: e.t, who });
            }
        } else if (e.comm === module && open.has(e.tid)
                   && (e.target === 'nginx' || e.target === 'postgres')) {
            open.get(e.tid).push({ t: e.t, who: e.target === 'nginx' ? 'reply' : 'sent' });
        }
    }
    return done;
}

// How long the module's threads took to run once PostgreSQL woke them:
// medians when they ran on the waker's CPU and when on the other one (a
// vCPU that sat idle must first be woken itself).
export function wakeLatency(text, module) {
    const woken = new Map();
    const same = [];
    const other = [];
    for (const e of events(text)) {
        if (e.event === 'sched_waking') {
            if (e.target === module && e.comm === 'postgres') woken.set(e.ttid, e);
        } else if (woken.has(e.ttid)) {
            const w = woken.get(e.ttid);
            woken.delete(e.ttid);
            (w.cpu === e.cpu ? same : other).push(e.t - w.t);
        }
    }
    const m = (xs) => (xs.length ? median(xs) : NaN);
    return { same: m(same), nsame: same.length, other: m(other), nother: other.length };
}

// Medians over the calls whose steps came in the expected order: the
// debit's answer, the provider's, the reply; with the commit confirmed
// either before the provider's answer or after it (the module waiting).
// `sent`: the admission's send, where it woke PostgreSQL (a backend
// still busy is not woken, and such a call does not count there).
export function breakdown(all) {
    const sent = [];
    const debit = [];
    const provider = [];
    const wait = [];
    const reply = [];
    let before = 0;
    for (const c of all) {
        const t0 = c[0].t;
        const iDebit = c.findIndex((s) => s.who === 'pg');
        const iFake = c.findIndex((s) => s.who === 'fake');
        if (iDebit < 1 || iFake < iDebit) continue;
        const iReply = c.findIndex((s, k) => k > iFake && s.who === 'reply');
        if (iReply < 0) continue;
        const commits = c.slice(iFake + 1, iReply).filter((s) => s.who === 'pg');
        const iSent = c.findIndex((s, k) => k < iDebit && s.who === 'sent');
        if (iSent > 0) sent.push(c[iSent].t - t0);
        debit.push(c[iDebit].t - t0);
        provider.push(c[iFake].t - t0);
        reply.push(c[iReply].t - t0);
        if (commits.length) wait.push(commits[commits.length - 1].t - c[iFake].t);
        else before++;
    }
    return {
        calls: debit.length,
        sent: sent.length ? median(sent) : NaN,
        debit: median(debit),
        provider: median(provider),
        waited: wait.length,
        before,
        wait: wait.length ? median(wait) : 0,
        reply: median(reply),
    };
}
