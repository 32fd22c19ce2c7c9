// `make install` (scripts/install.sh) run again over an installed system,
// as docs/OPERATIONS.md has an operator do to add a module later (and to
// upgrade on a distribution without the packages): the environment files
// of /etc/nano are the operator's, holding DATABASE_URL, the provider keys
// and the platform's Stripe and sign-in secrets, and stay as they were;
// one that is missing (a module new in the registry) is written.  Laid out
// under a DESTDIR in a temp dir, from this checkout's build/; no stack.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from './generations.mjs';
import { MODULES } from './lib.mjs';

const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-install-'));
after(() => fs.rmSync(dest, { recursive: true, force: true }));

function install(to = dest) {
    const env = { ...process.env, DESTDIR: to, PREFIX: '/usr', SYSCONFDIR: '/etc', B: 'build' };
    delete env.NANO_MODULES_FILE;       // the checkout's registry, as make install reads it
    const r = spawnSync(path.join(ROOT, 'scripts/install.sh'), ['platform'],
        { cwd: ROOT, encoding: 'utf8', env, timeout: 120000 });
    assert.equal(r.status, 0, `install.sh: ${r.stdout}${r.stderr}`);
    return r.stdout;
}

const conf = (f) => path.join(dest, 'etc/nano', f);

test('make install again keeps the operator\'s environment files and writes the missing ones', () => {
    install();
    const [mod] = MODULES;
    for (const f of ['common.env', 'platform.env', `${mod}.env`]) {
        assert.ok(fs.existsSync(conf(f)), `${f} laid out`);
    }
    const mine = {
        'common.env': 'DATABASE_URL=postgresql://nano:s3cret@db.internal/nano\n',
        'platform.env': 'STRIPE_SECRET_KEY=sk_live_operator\nSTRIPE_WEBHOOK_SECRET=whsec_operator\n',
        [`${mod}.env`]: 'PROVIDER_API_KEY=operator-key\n',
        'packs.conf': 'starter 100 499 usd Starter\n',
    };
    for (const [f, text] of Object.entries(mine)) {
        fs.writeFileSync(conf(f), text);
        fs.chmodSync(conf(f), 0o640);
    }
    // a module's file that is not there yet, as for a module new in the registry
    const [, other] = MODULES;
    fs.rmSync(conf(`${other}.env`));

    const out = install();
    for (const [f, text] of Object.entries(mine)) {
        assert.equal(fs.readFileSync(conf(f), 'utf8'), text, `${f} kept as the operator wrote it`);
        assert.equal(fs.statSync(conf(f)).mode & 0o777, 0o640, `${f}: its mode`);
        assert.match(out, new RegExp(`kept .*/etc/nano/${f.replace('.', '\\.')}`), `says it kept ${f}`);
    }
    assert.match(fs.readFileSync(conf(`${other}.env`), 'utf8'), new RegExp(`^# Environment of nano@${other.replace('.', '\\.')}\\.service`),
        'the missing one written');
    // the registry and the binaries are the checkout's, as before
    assert.equal(fs.readFileSync(conf('modules.conf'), 'utf8'), fs.readFileSync(path.join(ROOT, 'modules.conf'), 'utf8'));
});

// A module's file named its key only: its base URL (a proxy, a region's
// endpoint, README's "<P>_BASE_URL") was nowhere in /etc/nano, and an
// operator had to find its name in the sources (found by the config
// probe).  Both names are the ones its main.c switches on.
test('each module\'s environment file names its provider key and base URL variables', () => {
    const fresh = fs.mkdtempSync(path.join(dest, 'fresh-'));
    install(fresh);
    for (const mod of MODULES) {
        const main = fs.readFileSync(path.join(ROOT, 'backends', mod, 'main.c'), 'utf8');
        const key = main.match(/\.key_env\s*=\s*"([A-Z0-9_]+)"/)?.[1];
        const text = fs.readFileSync(path.join(fresh, 'etc/nano', `${mod}.env`), 'utf8');
        if (!key) continue;                     // an offline-only module
        assert.match(text, new RegExp(`^#${key}=$`, 'm'), `${mod}.env names ${key}:\n${text}`);
        const base = key.replace(/_API_KEY$/, '_BASE_URL');
        assert.match(text, new RegExp(`^#${base}=$`, 'm'), `${mod}.env names ${base}:\n${text}`);
    }
});
