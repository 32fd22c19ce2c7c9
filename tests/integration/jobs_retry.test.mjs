// Image jobs retry a provider's 429 after the wait it asks for: Gemini
// says it in the body (RetryInfo retryDelay), not in a Retry-After
// header (until 2026-12-05 the runner ignored it and asked again within
// half a second; found by a probe).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oneJob, called, failedClean, ledgerOf, RETRIES } from './generations.mjs';

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

// A provider that asks for more than the minute a retry waits would
// refuse the retry as well: the job fails at once, asked once, refunded
// (the text calls' rule).  Until 2026-12-06 the runner asked again after
// 60 s, twice, into the same refusal, and the job failed two minutes later.
test('nano-banana [fake:429=120]: a wait past the retry\'s minute fails the job at once, asked once, refunded', async () => {
    const m = 'nano-banana';
    const t0 = Date.now();
    const j = await oneJob(m, 'gemini-retry-long', 'a picture on a very busy day [fake:429=120]', 20000);
    failedClean(j, m, 'provider_quota');
    assert.equal(called(j, 'gemini.generateContent'), 1, 'asked once');
    assert.ok(Date.now() - t0 < 15000, `ended after ${Date.now() - t0} ms`);
});

// DashScope throttles polls (about 20 QPS a key).  A poll is a GET that
// changes nothing: a throttled one is polled again on the poll's own
// backoff, as long as any poll may take, instead of failing (and
// refunding) a video DashScope goes on making and charges for (until
// 2026-12-05 three throttled polls in a row did; found by a probe).
test('wan-2.5 [fake:poll-429=5]: throttled polls are polled again; one submit, the video stored, charged once', async () => {
    const m = 'wan-2.5';
    const j = await oneJob(m, 'wan-poll-throttled', 'a video on a busy day [fake:poll-429=5]', 60000);
    assert.equal(j.g.status, 'succeeded', JSON.stringify(j.g.error));
    assert.equal(called(j, 'wan.submit'), 1, 'submitted once');
    assert.ok(called(j, 'wan.poll') >= 6, `polled ${called(j, 'wan.poll')} times`);
    assert.equal(j.g.outputs.length, 1);
    assert.deepEqual(ledgerOf(j.id).map((x) => [x.reason, Number(x.delta)]), [['debit', -j.cost]], 'charged once, no refund');
});

// A poll that brings no answer at all (the connection cut, a timeout) is
// the same: the task goes on at DashScope, so it is polled again on the
// poll's backoff.  Until 2026-12-06 a poll unanswered past the runner's
// two retries failed the video and refunded it, while DashScope made it
// and charged (found by a probe: four polls cut in a row).
test('wan-2.5 [fake:poll-drop=4]: polls cut with no answer are polled again; one submit, the video stored, charged once', async () => {
    const m = 'wan-2.5';
    const j = await oneJob(m, 'wan-poll-cut', 'a video on a flaky line [fake:poll-drop=4]', 60000);
    assert.equal(j.g.status, 'succeeded', JSON.stringify(j.g.error));
    assert.equal(called(j, 'wan.submit'), 1, 'submitted once');
    assert.ok(called(j, 'wan.poll') >= 5, `polled ${called(j, 'wan.poll')} times`);
    assert.equal(j.g.outputs.length, 1);
    assert.deepEqual(ledgerOf(j.id).map((x) => [x.reason, Number(x.delta)]), [['debit', -j.cost]], 'charged once, no refund');
});

// A poll answered 200 with a body that cannot be read (a proxy's page, a
// cut body) says nothing of the task either: polled again, at most four
// times in a row; the fifth fails the video, refunded once.  Until
// 2026-12-06 the first such answer failed and refunded a video that
// DashScope went on making and charged.
test('wan-2.5 [fake:poll-garbage=3]: unreadable poll answers are polled again; one submit, the video stored, charged once', async () => {
    const m = 'wan-2.5';
    const j = await oneJob(m, 'wan-poll-garbage', 'a video behind a proxy [fake:poll-garbage=3]', 60000);
    assert.equal(j.g.status, 'succeeded', JSON.stringify(j.g.error));
    assert.equal(called(j, 'wan.submit'), 1, 'submitted once');
    assert.ok(called(j, 'wan.poll') >= 4, `polled ${called(j, 'wan.poll')} times`);
    assert.equal(j.g.outputs.length, 1);
    assert.deepEqual(ledgerOf(j.id).map((x) => [x.reason, Number(x.delta)]), [['debit', -j.cost]], 'charged once, no refund');
});

test('wan-2.5 [fake:poll-garbage=9]: the fifth unreadable poll answer in a row fails the video as bad_response, refunded once', async () => {
    const m = 'wan-2.5';
    const j = await oneJob(m, 'wan-poll-garbage-5', 'a video behind a broken proxy [fake:poll-garbage=9]', 90000);
    failedClean(j, m, 'bad_response');
    assert.equal(called(j, 'wan.submit'), 1, 'submitted once');
    assert.equal(called(j, 'wan.poll'), 5, 'polled five times');
});
