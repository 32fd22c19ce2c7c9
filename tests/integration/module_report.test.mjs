// A module reports what it runs on ("ModuleStatus": its provider, offline
// or not) when it starts, and the dashboard shows that report.  A module
// that starts while the database is out of reach (a host's boot before
// PostgreSQL, a restart during a failover) must still report once the
// database is back: the last process's report stayed in place for as
// long as the new one ran, so a provider key added showed the module
// offline on the dashboard, and a key removed showed the provider while
// it made offline placeholders (found by the failures probe).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { REGISTRY, stackctl, retry, get } from './lib.mjs';
import { person, envFile, FAKE_URL, FAKE_KEY } from './generations.mjs';

const M = 'seedream';          // offline in the test stack: no ARK_API_KEY

after(() => {
    try {
        stackctl('start-db');
    } catch { /* already running */ }
});

async function status(jar) {
    const r = await get('/api/dashboard', { headers: jar.headers() });
    if (r.status !== 200) return null;
    const m = r.json().modules.find((x) => x.name === M);
    return m ? { provider: m.provider, offline: m.offline } : null;
}

test(`${M}: started while the database is down, it reports its provider once the database is back`,
    { skip: !REGISTRY.some((r) => r.name === M) || !FAKE_URL }, async () => {
        const u = await person('report');
        const before = await status(u.jar);
        assert.deepEqual(before, { provider: 'offline-image', offline: true }, 'offline to begin with');

        const file = envFile(M);
        const saved = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
        try {
            fs.writeFileSync(file, `${saved ?? ''}ARK_API_KEY=${FAKE_KEY}\nARK_BASE_URL=${FAKE_URL}\n`);
            stackctl('stop-db');
            try {
                stackctl('restart-backend', M);
            } finally {
                stackctl('start-db');
            }
            const now = await retry(async () => {
                const s = await status(u.jar);
                return s && s.offline === false ? s : null;
            }, 15000);
            assert.ok(now, `the dashboard shows ${M} on its provider: ${JSON.stringify(await status(u.jar))}`);
            assert.notEqual(now.provider, 'offline-image');
        } finally {
            if (saved === null) fs.rmSync(file, { force: true });
            else fs.writeFileSync(file, saved);
            stackctl('restart-backend', M);
        }
        assert.deepEqual(await status(u.jar), { provider: 'offline-image', offline: true }, 'offline again');
    });
