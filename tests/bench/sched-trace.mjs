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

// "  comm  tid secs: sched:sched_waking: comm=X pid=N ..."
const LINE = /^\s*(.+?)\s+(\d+)\s+([\d.]+): sched:sched_waking: comm=(.+?) pid=(\d+)/;

// The wake-ups of the module's threads (comm `module`), and the module's
// own wake-ups of nginx, from `perf script` of FILE: per call, the times
// (µs after nginx woke the thread) of each step.
export function calls(file, module) {
    const out = spawnSync('perf', ['script', '-i', file, '-F', 'comm,tid,time,event,trace'],
        { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (out.status !== 0) throw new Error(`perf script failed: ${out.stderr.slice(0, 300)}`);
    const open = new Map();
    const done = [];
    for (const l of out.stdout.split('\n')) {
        const m = LINE.exec(l);
        if (!m) continue;
        const [, waker, wtid, secs, target, ttid] = m;
        const t = Number(secs) * 1e6;
        if (target === module) {
            const who = { nginx: 'nginx', postgres: 'pg', node: 'fake' }[waker] || waker;
            if (who === 'nginx') {
                if (open.has(ttid)) done.push(open.get(ttid));
                open.set(ttid, [{ t, who: 'start' }]);
            } else if (open.has(ttid)) {
                open.get(ttid).push({ t, who });
            }
        } else if (waker === module && target === 'nginx' && open.has(wtid)) {
            open.get(wtid).push({ t, who: 'reply' });
        }
    }
    return done;
}

// Medians over the calls whose steps came in the expected order: the
// debit's answer, the provider's, the reply; with the commit confirmed
// either before the provider's answer or after it (the module waiting).
export function breakdown(all) {
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
        debit.push(c[iDebit].t - t0);
        provider.push(c[iFake].t - t0);
        reply.push(c[iReply].t - t0);
        if (commits.length) wait.push(commits[commits.length - 1].t - c[iFake].t);
        else before++;
    }
    return {
        calls: debit.length,
        debit: median(debit),
        provider: median(provider),
        waited: wait.length,
        before,
        wait: wait.length ? median(wait) : 0,
        reply: median(reply),
    };
}
