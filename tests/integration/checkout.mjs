// A checkout of links to this one for a make run of its own
// (scripts/run.sh, its state in the copy): this build's nginx module and
// backends, and a stand-in nano-migrate that prints an empty plan (the
// caller's DATABASE_URL says whether a PostgreSQL is there).  Used by
// config.test.mjs and run_stop.test.mjs.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// Fills the empty folder root with the checkout's links; returns root.
export function runCheckout(root) {
    for (const f of ['scripts', 'nginx.conf.d', 'backends', 'sql', 'modules.conf', 'packs.conf']) {
        fs.symlinkSync(path.join(ROOT, f), path.join(root, f));
    }
    fs.mkdirSync(path.join(root, 'build/bin'), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'build/modules'), path.join(root, 'build/modules'));
    for (const b of fs.readdirSync(path.join(ROOT, 'build/bin'))) {
        if (b !== 'nano-migrate') fs.symlinkSync(path.join(ROOT, 'build/bin', b), path.join(root, 'build/bin', b));
    }
    fs.writeFileSync(path.join(root, 'build/bin/nano-migrate'), '#!/bin/sh\necho "plan: nothing to do"\n', { mode: 0o755 });
    return root;
}

// The pids a stack's pid files name ({name: pid}).
export function stackPids(state) {
    const dir = path.join(state, 'pids');
    return Object.fromEntries(fs.readdirSync(dir).filter((f) => f.endsWith('.pid'))
        .map((f) => [f.slice(0, -4), Number(fs.readFileSync(path.join(dir, f), 'utf8').split(' ')[0])]));
}
