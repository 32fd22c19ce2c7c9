// Image jobs retry a provider's 429 after the wait it asks for: Gemini
// says it in the body (RetryInfo retryDelay), not in a Retry-After
// header (until 2026-12-05 the runner ignored it and asked again within
// half a second; found by a probe).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oneJob, called, failedClean, RETRIES } from './generations.mjs';

test('nano-banana [fake:429=3]: each retry waits Gemini\'s RetryInfo delay (3 s), then fails provider_quota, refunded once', async () => {
    const m = 'nano-banana';
    const j = await oneJob(m, 'gemini-retry-info', 'a picture on a busy day [fake:429=3]');
    failedClean(j, m, 'provider_quota');
    assert.equal(called(j, 'gemini.generateContent'), 1 + RETRIES);
    const times = j.after.times['gemini.generateContent'].slice(-(1 + RETRIES));
    for (let i = 1; i < times.length; i++) {
        assert.ok(times[i] - times[i - 1] >= 2950, `retry ${i} came ${times[i] - times[i - 1]} ms after the 429 that asked for 3 s`);
    }
});
