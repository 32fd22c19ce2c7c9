// Idempotency keys on a job's POST /<m>/api/generate (docs/MODULES.md,
// "Idempotency keys"; sql/014_idempotency.sql): the same key from the
// same user in the same module gives the first request's generation,
// charged once, whatever the balance or the room is now; a key sent with
// another request is 422 and writes nothing; a bad key, or a key on a
// text module, is 400 and charges nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { REGISTRY, ORIGIN, request } from './lib.mjs';
import {
    psql, lit, person, generate, waitFor, del, ledgerOf, balanceOf,
    ledgerSum, price, setBalance, tag, png, rawRequest, MEDIA_DIR, byName,
    multipart,
} from './generations.mjs';

const M = 'nano-banana';
const OTHER = 'seedream';
const TEXT = REGISTRY.find((m) => m.kind === 'text')?.name;
const key = () => crypto.randomUUID();
const K = (k) => ({ 'Idempotency-Key': k });
const rows = (userId, m = M) => Number(psql(`SELECT count(*) FROM "Generation"
    WHERE "userId" = ${lit(userId)} AND "module" = ${lit(m)}`));
const keyed = (userId, k) => psql(`SELECT coalesce(string_agg("generationId", ','), '')
    FROM "GenerationKey" WHERE "userId" = ${lit(userId)} AND "key" = ${lit(k)}`);

test('a request sent again with its Idempotency-Key gets the first generation, charged once', async () => {
    assert.ok(byName[M] && byName[OTHER], `${M} and ${OTHER} are in the registry`);
    const u = await person('idem');
    const cost = price(M);
    const before = balanceOf(u.id) ?? 100;
    const k = key();
    const body = { prompt: `a lighthouse ${tag()}`, seed: 7, aspectRatio: '16:9' };

    const first = await generate(u.jar, M, body, K(k));
    assert.equal(first.status, 202, first.text);
    assert.equal(first.headers['idempotent-replayed'], undefined, 'a first answer is no replay');
    const { id } = first.json();
    assert.deepEqual(first.json(), { id, status: 'queued', cost });

    const again = await generate(u.jar, M, body, K(k));
    assert.equal(again.status, 202, again.text);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.json().id, id);
    assert.equal(again.json().cost, cost);

    // once it ended, the replay says so
    assert.equal((await waitFor(u.jar, M, id)).status, 'succeeded');
    const later = await generate(u.jar, M, body, K(k));
    assert.equal(later.status, 202, later.text);
    assert.deepEqual(later.json(), { id, status: 'succeeded', cost });

    // even when the balance no longer covers it: nothing new is charged
    setBalance(u.id, 0);
    const broke = await generate(u.jar, M, body, K(k));
    assert.equal(broke.status, 202, broke.text);
    assert.equal(broke.json().id, id);
    assert.equal(balanceOf(u.id), 0);
    assert.deepEqual(ledgerOf(id).map((l) => [l.reason, l.delta]), [['debit', -cost]]);
    assert.equal(rows(u.id), 1);
    assert.equal(keyed(u.id, k), id);
    assert.ok(before >= cost);
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});

test('an Idempotency-Key belongs to one user in one module; other keys are other generations', async () => {
    const a = await person('idem-a');
    const b = await person('idem-b');
    const k = key();
    const body = { prompt: `a harbour ${tag()}` };
    const ra = await generate(a.jar, M, body, K(k));
    const rb = await generate(b.jar, M, body, K(k));
    const ro = await generate(a.jar, OTHER, body, K(k));
    const rn = await generate(a.jar, M, body, K(key()));
    const rnone = await generate(a.jar, M, body);
    for (const r of [ra, rb, ro, rn, rnone]) {
        assert.equal(r.status, 202, r.text);
        assert.equal(r.headers['idempotent-replayed'], undefined);
    }
    const ids = [ra, rb, ro, rn, rnone].map((r) => r.json().id);
    assert.equal(new Set(ids).size, 5, 'five generations');
    assert.equal(rows(a.id), 3);
    assert.equal(rows(a.id, OTHER), 1);
    assert.equal(rows(b.id), 1);
    for (const id of ids) assert.equal(ledgerOf(id).length, 1);
});

test('an Idempotency-Key sent with another prompt, model or options is 422 and writes nothing', async () => {
    const u = await person('idem-reuse');
    const k = key();
    const body = { prompt: `a mill ${tag()}`, seed: 3 };
    const first = await generate(u.jar, M, body, K(k));
    assert.equal(first.status, 202, first.text);
    const bal = balanceOf(u.id);
    const changes = [
        { ...body, prompt: `${body.prompt}!` },
        { ...body, seed: 4 },
        { prompt: body.prompt },
        { ...body, aspectRatio: '16:9' },
        { ...body, image: png(16, 16).toString('base64') },
    ];
    // another of the module's models, where it has more than one
    const charged = psql(`SELECT "model" FROM "Generation" WHERE "id" = ${lit(first.json().id)}`);
    const other = psql(`SELECT "model" FROM "ModelPrice" WHERE "module" = ${lit(M)}
        AND "model" <> ${lit(charged)} LIMIT 1`);
    if (other) changes.push({ ...body, model: other });
    for (const other of changes) {
        const r = await generate(u.jar, M, other, K(k));
        assert.equal(r.status, 422, `${JSON.stringify(other).slice(0, 80)}: ${r.text}`);
        assert.equal(r.json().error, 'idempotency_key_reused');
        assert.ok(r.json().message);
    }
    assert.equal(rows(u.id), 1);
    assert.equal(balanceOf(u.id), bal);
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
    // the model named as it was charged is the same request
    const same = await generate(u.jar, M, { ...body, model: charged }, K(k));
    assert.equal(same.status, 202, same.text);
    assert.equal(same.json().id, first.json().id);
});

test('twelve requests at once with one Idempotency-Key make one generation and one debit', async () => {
    const u = await person('idem-race');
    const cost = price(M);
    setBalance(u.id, 20 * cost);
    const k = key();
    const body = { prompt: `a race ${tag()}` };
    const all = await Promise.all(Array.from({ length: 12 }, () => generate(u.jar, M, body, K(k))));
    for (const r of all) assert.equal(r.status, 202, r.text);
    const ids = new Set(all.map((r) => r.json().id));
    assert.equal(ids.size, 1, `one id: ${[...ids]}`);
    assert.equal(all.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 11);
    assert.equal(rows(u.id), 1);
    assert.equal(balanceOf(u.id), 19 * cost);
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});

test('a first use with one Idempotency-Key at once (no account yet, as a V1 user): one generation, every answer 202, no 500', async () => {
    for (let round = 0; round < 3; round++) {
        const u = await person(`idem-first-${round}`);
        // the account a V1 user does not have yet
        psql(`DELETE FROM "CreditLedger" WHERE "userId" = ${lit(u.id)};
              DELETE FROM "CreditAccount" WHERE "userId" = ${lit(u.id)}`);
        const k = key();
        const body = { prompt: `a first use ${tag()}` };
        const all = await Promise.all(Array.from({ length: 20 }, () => generate(u.jar, M, body, K(k))));
        const codes = all.map((r) => r.status);
        assert.deepEqual([...new Set(codes)], [202], `answers: ${codes.join(' ')}; ${all.find((r) => r.status !== 202)?.text}`);
        assert.equal(new Set(all.map((r) => r.json().id)).size, 1);
        assert.equal(rows(u.id), 1);
        assert.equal(balanceOf(u.id), 100 - price(M));
        assert.equal(ledgerSum(u.id), balanceOf(u.id));
    }
});

test('a replayed request with an input image keeps only the first one\'s file', async () => {
    const u = await person('idem-image');
    const inputs = path.join(MEDIA_DIR, M, u.id, 'inputs');
    const k = key();
    const body = { prompt: `edit ${tag()}`, image: png(20, 20).toString('base64') };
    const first = await generate(u.jar, M, body, K(k));
    assert.equal(first.status, 202, first.text);
    const again = await generate(u.jar, M, body, K(k));
    assert.equal(again.status, 202, again.text);
    assert.equal(again.json().id, first.json().id);
    const stored = psql(`SELECT "params"->'inputImage'->>'file' FROM "Generation"
        WHERE "id" = ${lit(first.json().id)}`);
    assert.deepEqual(fs.readdirSync(inputs), [path.basename(stored)]);
});

test('an Idempotency-Key sent with another input image is 422; the same bytes, base64 or uploaded, are the same request', async () => {
    const u = await person('idem-image-bytes');
    const inputs = path.join(MEDIA_DIR, M, u.id, 'inputs');
    const k = key();
    const image = png(24, 18);
    const prompt = `an edit ${tag()}`;
    const first = await generate(u.jar, M, { prompt, image: image.toString('base64') }, K(k));
    assert.equal(first.status, 202, first.text);
    const id = first.json().id;
    const digest = crypto.createHash('sha256').update(image).digest('hex');
    assert.equal(psql(`SELECT "params"->'inputImage'->>'sha256' FROM "Generation" WHERE "id" = ${lit(id)}`),
        digest, 'the keyed row keeps the SHA-256 of the stored image');
    const bal = balanceOf(u.id);
    const upload = (data) => {
        const mp = multipart({ prompt }, [{ name: 'image', filename: 'in.png', type: 'image/png', data }]);
        return request('POST', `/${M}/api/generate`, {
            headers: u.jar.headers({ 'Content-Type': mp.type, Origin: ORIGIN, ...K(k) }),
            body: mp.body, timeout: 60000,
        });
    };
    const another = png(24, 19);
    for (const [how, send] of [
        ['base64', () => generate(u.jar, M, { prompt, image: another.toString('base64') }, K(k))],
        ['multipart', () => upload(another)],
    ]) {
        const r = await send();
        assert.equal(r.status, 422, `another image (${how}): ${r.text}`);
        assert.equal(r.json().error, 'idempotency_key_reused');
    }
    const same = await upload(image);
    assert.equal(same.status, 202, same.text);
    assert.equal(same.json().id, id, 'the same bytes uploaded are the first request');
    assert.equal(same.headers['idempotent-replayed'], 'true');
    assert.equal(rows(u.id), 1);
    assert.equal(balanceOf(u.id), bal);
    assert.equal(fs.readdirSync(inputs).length, 1, 'only the first request\'s image is kept');
    // without a key nothing is read back: no digest is stored
    const plain = await generate(u.jar, M, { prompt, image: image.toString('base64') });
    assert.equal(plain.status, 202, plain.text);
    assert.equal(psql(`SELECT "params"->'inputImage' ? 'sha256' FROM "Generation" WHERE "id" = ${lit(plain.json().id)}`), 'f');
    // and the API never shows where or what the server keeps
    const g = await waitFor(u.jar, M, id);
    assert.equal(g.params?.inputImage, undefined);
});

test('a deleted generation frees its Idempotency-Key', async () => {
    const u = await person('idem-del');
    const k = key();
    const body = { prompt: `a bridge ${tag()}` };
    const first = await generate(u.jar, M, body, K(k));
    assert.equal(first.status, 202, first.text);
    await waitFor(u.jar, M, first.json().id);
    assert.equal((await del(u.jar, M, first.json().id)).status, 200);
    const next = await generate(u.jar, M, body, K(k));
    assert.equal(next.status, 202, next.text);
    assert.notEqual(next.json().id, first.json().id);
    assert.equal(next.headers['idempotent-replayed'], undefined);
    assert.equal(ledgerOf(first.json().id).length, 1, 'the first debit stays in the ledger');
    assert.equal(keyed(u.id, k), next.json().id, 'the key names the new one alone');
});

test('an Idempotency-Key expires 24 hours after its first request; expired keys are deleted', async () => {
    const u = await person('idem-exp');
    const [k, old, young] = [key(), key(), key()];
    const body = { prompt: `a windmill ${tag()}` };
    const made = {};
    for (const x of [k, old, young]) {
        const r = await generate(u.jar, M, body, K(x));
        assert.equal(r.status, 202, r.text);
        made[x] = r.json().id;
        await waitFor(u.jar, M, made[x]);
    }
    // as if k had been first sent 24 hours and a minute ago, old 30 days
    // ago and young 23 hours ago
    const age = (x, interval) => psql(`UPDATE "GenerationKey"
        SET "createdAt" = (now() AT TIME ZONE 'utc') - interval '${interval}'
        WHERE "userId" = ${lit(u.id)} AND "key" = ${lit(x)}`);
    age(k, '24 hours 1 minute');
    age(old, '30 days');
    age(young, '23 hours');

    // another prompt under k is a new request now, not a 422
    const next = await generate(u.jar, M, { prompt: `a mill pond ${tag()}` }, K(k));
    assert.equal(next.status, 202, next.text);
    assert.equal(next.headers['idempotent-replayed'], undefined);
    assert.notEqual(next.json().id, made[k]);
    assert.equal(keyed(u.id, k), next.json().id, 'the key names the new generation');
    assert.equal(keyed(u.id, old), '', 'the other expired key of the user is deleted');
    assert.equal(keyed(u.id, young), made[young], 'a key younger than 24 hours stays');
    // the young key is still in force
    const again = await generate(u.jar, M, { prompt: `another ${tag()}` }, K(young));
    assert.equal(again.status, 422, 'a young key with another prompt is still refused');
    assert.equal(again.json().error, 'idempotency_key_reused');
    const replay = await generate(u.jar, M, body, K(young));
    assert.equal(replay.status, 202, replay.text);
    assert.equal(replay.json().id, made[young]);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    // the earlier generations stay, each charged once
    for (const id of Object.values(made)) {
        assert.deepEqual(ledgerOf(id).map((l) => [l.reason, l.delta]), [['debit', -price(M)]]);
    }
    assert.equal(rows(u.id), 4);
    assert.equal(ledgerSum(u.id), balanceOf(u.id));
});

test('a bad Idempotency-Key is 400 naming it, and charges nothing', async () => {
    const u = await person('idem-bad');
    const bal = balanceOf(u.id) ?? 100;
    const body = JSON.stringify({ prompt: `a cliff ${tag()}` });
    const raw = (value) => rawRequest('POST', `/${M}/api/generate`, {
        Cookie: u.jar.headers().Cookie, Origin: ORIGIN, 'Content-Type': 'application/json',
        'Idempotency-Key': value,
    }, Buffer.byteLength(body), { body: Buffer.from(body) });
    for (const [what, value] of [
        ['empty', ''],
        ['256 bytes', 'k'.repeat(256)],
        ['a blank inside', 'a b'],
        ['a byte past ASCII', Buffer.from('caf\u00e9', 'utf8').toString('latin1')],
    ]) {
        const r = await raw(value);
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.equal(r.json().field, 'Idempotency-Key', what);
    }
    assert.equal(rows(u.id), 0);
    assert.equal(balanceOf(u.id) ?? 100, bal);
    const ok = await generate(u.jar, M, JSON.parse(body), K('k'.repeat(255)));
    assert.equal(ok.status, 202, ok.text);
});

// nginx 1.22 passes a header sent twice as two params (1.23 on joins
// them with ", "): the module read the first, stored it, and a retry
// with the second would have been charged again.
test('an Idempotency-Key header sent twice is 400 naming it, and charges nothing', async () => {
    const u = await person('idem-twice');
    const bal = balanceOf(u.id) ?? 100;
    const k1 = key();
    for (const [what, value] of [
        ['two keys', [k1, key()]],
        ['one key twice', [k1, k1]],
        ['two keys on one line, as nginx 1.23 joins them', `${k1}, ${key()}`],
    ]) {
        const r = await generate(u.jar, M, { prompt: `a pier ${tag()}` }, K(value));
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.equal(r.json().field, 'Idempotency-Key', what);
    }
    assert.equal(rows(u.id), 0);
    assert.equal(keyed(u.id, k1), '');
    assert.equal(balanceOf(u.id) ?? 100, bal);
});

test('a text module refuses an Idempotency-Key (an answer cannot be replayed) and charges nothing', async () => {
    assert.ok(TEXT, 'a text module is in the registry');
    const u = await person('idem-text');
    const bal = balanceOf(u.id) ?? 100;
    const r = await generate(u.jar, TEXT, { prompt: 'hello' }, K(key()));
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json().field, 'Idempotency-Key');
    assert.equal(rows(u.id, TEXT), 0);
    assert.equal(balanceOf(u.id) ?? 100, bal);
});
