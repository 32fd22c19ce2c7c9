// Where a chat call's time goes, read from the scheduler rather than
// from timers inside the code (chat-overhead's BENCH_TRACE): `perf`
// records every wake-up on the machine for a few seconds; for each call,
// who woke the module's handling thread and when tells the steps apart:
// nginx hands it the request, PostgreSQL the debit's answer, the fake
// (node) the provider's answer, PostgreSQL again the commit, and the
// module wakes nginx with the reply.  The same record has PostgreSQL's
// backend between the debit's answer and the commit (running, waiting for
// a CPU, waiting for the disk), and the block layer's requests, which say
// what one commit's flush costs on this machine's disk.  Needs perf
// (Debian: linux-perf) and root.
import { spawn, spawnSync } from 'node:child_process';
import { median } from './lib.mjs';

// Starts a system-wide record of SECONDS into FILE; resolves when perf
// ends (it ends by itself).
export function record(file, seconds) {
    return new Promise((resolve, reject) => {
        const p = spawn('perf', ['record', '-q', '-a', '-o', file,
            '-e', 'sched:sched_waking', '-e', 'sched:sched_switch',
            '-e', 'block:block_rq_issue', '-e', 'block:block_rq_complete',
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

// The events of FILE, read once (`perf script`: "  comm  tid [cpu]
// secs: sched:EVENT: ..."), for the analyses below
export function script(file) {
    const out = spawnSync('perf', ['script', '-i', file, '-F', 'comm,tid,cpu,time,event,trace'],
        { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (out.status !== 0) throw new Error(`perf script failed: ${out.stderr.slice(0, 300)}`);
    return parse(out.stdout);
}

const HEAD = /^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(?:sched|block):(sched_waking|sched_switch|block_rq_issue|block_rq_complete): (.*)$/;
const WAKING = /^comm=(.+?) pid=(\d+)/;
const SWITCH = /^prev_comm=.+? prev_pid=(\d+) prev_prio=\S+ prev_state=(\S+) ==> next_comm=(.+?) next_pid=(\d+)/;
// "DEV RWBS [BYTES] () SECTOR + N ...": the request's kind (W write, F
// flush, S sync, M metadata) and where it goes
const BLOCK = /^(\S+) (\S+) (?:\d+ )?\(\) (\d+) \+ (\d+)/;

// sched_waking: e.target, e.ttid (the woken); sched_switch: e.prev,
// e.pstate (the one leaving: R preempted, D the disk, S sleeping), e.target,
// e.ttid (the one coming); block: e.rwbs, e.key (the request's device and
// place, a flush's "FF")
function parse(text) {
    const evs = [];
    for (const l of text.split('\n')) {
        const m = HEAD.exec(l);
        if (!m) continue;
        const [, comm, tid, cpu, secs, event, rest] = m;
        const e = { comm, tid, cpu, t: Number(secs) * 1e6, event };
        if (event === 'sched_waking') {
            const r = WAKING.exec(rest);
            if (!r) continue;
            [, e.target, e.ttid] = r;
        } else if (event === 'sched_switch') {
            const r = SWITCH.exec(rest);
            if (!r) continue;
            [, e.prev, e.pstate, e.target, e.ttid] = r;
        } else {
            const r = BLOCK.exec(rest);
            if (!r) continue;
            e.rwbs = r[2];
            e.key = r[2].startsWith('F') ? `${r[1]} flush` : `${r[1]} ${r[3]}+${r[4]}`;
        }
        evs.push(e);
    }
    return evs;
}

// The wake-ups of the module's threads (comm `module`), and the module's
// own wake-ups of nginx and PostgreSQL: per call, the times (µs after
// nginx woke the thread) of each step.
export function calls(evs, module) {
    const open = new Map();
    const done = [];
    for (const e of evs) {
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
export function wakeLatency(evs, module) {
    const woken = new Map();
    const same = [];
    const other = [];
    for (const e of evs) {
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

// PostgreSQL's backend from the debit's answer to the commit's (the two
// wake-ups of the module's thread by the same backend with nothing sent
// to it between): medians of its time running, waiting for a CPU
// (runnable), and sleeping on the disk (D: the WAL's flush) or otherwise.
export function commitChain(evs, module) {
    const state = new Map();    // tid -> { st, since }
    const open = new Map();     // backend tid -> { start, mtid, acc }
    const chains = [];
    const add = (tid, t) => {
        const c = open.get(tid);
        const s = state.get(tid);
        if (c && s) c.acc[s.st] += t - Math.max(s.since, c.start);
    };
    const enter = (tid, st, t) => {
        add(tid, t);
        state.set(tid, { st, since: t });
    };
    for (const e of evs) {
        if (e.event === 'sched_waking') {
            if (e.comm === 'postgres' && e.target === module) {
                const c = open.get(e.tid);
                if (c && c.mtid === e.ttid) {
                    add(e.tid, e.t);
                    chains.push({ total: e.t - c.start, ...c.acc });
                    open.delete(e.tid);
                } else {
                    open.set(e.tid, { start: e.t, mtid: e.ttid,
                        acc: { run: 0, runnable: 0, disk: 0, sleep: 0 } });
                }
            } else if (e.comm === module && e.target === 'postgres') {
                open.delete(e.ttid);    // sent more: a new exchange
            }
            if (state.get(e.ttid)?.st !== 'run') enter(e.ttid, 'runnable', e.t);
        } else if (e.event === 'sched_switch') {
            const st = e.pstate.startsWith('R') ? 'runnable'
                : e.pstate.startsWith('D') ? 'disk' : 'sleep';
            enter(e.prev, st, e.t);
            enter(e.ttid, 'run', e.t);
        }
    }
    const m = (k) => (chains.length ? median(chains.map((c) => c[k])) : NaN);
    return { chains: chains.length, total: m('total'), run: m('run'),
        runnable: m('runnable'), disk: m('disk'), sleep: m('sleep') };
}

// The block requests PostgreSQL's commits make: for the WAL's writes
// (synchronous writes, "WS"), the inode's ("WSM": a filesystem without a
// journal writes the file's inode block when a write changed its
// mtime) and the disk's cache flushes ("FF"), how many there were and
// the median time from issue to completion.
export function diskWrites(evs) {
    const issued = new Map();
    const kinds = { wal: [], inode: [], flush: [] };
    for (const e of evs) {
        if (e.event === 'block_rq_issue') {
            issued.set(e.key, { t: e.t, rwbs: e.rwbs });
        } else if (e.event === 'block_rq_complete' && issued.has(e.key)) {
            const i = issued.get(e.key);
            issued.delete(e.key);
            const k = i.rwbs.startsWith('F') ? 'flush'
                : i.rwbs === 'WSM' ? 'inode' : i.rwbs === 'WS' ? 'wal' : null;
            if (k) kinds[k].push(e.t - i.t);
        }
    }
    const out = {};
    for (const [k, xs] of Object.entries(kinds)) {
        out[k] = { n: xs.length, median: xs.length ? median(xs) : NaN };
    }
    return out;
}
