import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { Dialler } from '../src/index.js';
import { diallerFor } from './dialler-for.js';
import { startStack, waitFor, type Stack } from './harness.js';

describe('campaign of mixed outcomes', () => {
  let stack: Stack;
  let dialler: Dialler;

  before(async () => {
    stack = await startStack({
      campaign: { maxAttempts: 2, retryBackoffMs: 100, concurrency: 10 },
      contacts: [
        { scenario: 'speak' },
        { scenario: 'press-1' },
        { scenario: 'busy' },
        { scenario: 'no-answer' },
        { scenario: 'failed' },
        { scenario: 'silent' },
      ],
      workerIds: ['w1', 'w2', 'w3'],
    });
    dialler = diallerFor(stack);
    await dialler.start();
    await waitFor(() => stack.bridge.finished, 'every contact final', 20_000);
  });

  after(async () => {
    await dialler?.stop();
    await stack?.close();
  });

  it('marks answered contacts done after one call', () => {
    for (const contactId of ['contact-1', 'contact-2', 'contact-6']) {
      const contact = stack.bridge.contact(contactId);
      assert.equal(contact.state, 'done', contactId);
      const calls = stack.bridge.callsOf(contactId);
      assert.equal(calls.length, 1, contactId);
      const statuses = stack.bridge.reportsFor(calls[0] ?? '').map((report) => report.status);
      assert.deepEqual(statuses, ['dialling', 'ringing', 'in-progress', 'completed']);
      const final = stack.bridge.reportsFor(calls[0] ?? '').at(-1);
      assert.deepEqual(final?.contact, { decision: 'done' });
    }
  });

  it('retries unanswered contacts then fails them', () => {
    for (const [contactId, status] of [
      ['contact-3', 'busy'],
      ['contact-4', 'no-answer'],
      ['contact-5', 'failed'],
    ] as const) {
      assert.equal(stack.bridge.contact(contactId).state, 'failed', contactId);
      const calls = stack.bridge.callsOf(contactId);
      assert.equal(calls.length, 2, contactId);
      const first = stack.bridge.reportsFor(calls[0] ?? '').at(-1);
      const second = stack.bridge.reportsFor(calls[1] ?? '').at(-1);
      assert.equal(first?.status, status);
      assert.equal(first?.contact?.decision, 'retry');
      assert.equal(second?.status, status);
      assert.deepEqual(second?.contact, { decision: 'failed' });
    }
  });

  it('reports the worker and carrier ids', () => {
    const calls = stack.bridge.callsOf('contact-1');
    const reports = stack.bridge.reportsFor(calls[0] ?? '');
    assert.match(reports[0]?.workerId ?? '', /^w[123]$/);
    assert.match(reports.at(-1)?.carrierCallId ?? '', /^sim-\d+$/);
  });

  it('leaves every slot idle and counts attempts', async () => {
    await waitFor(async () => {
      const slots = await stack.registry.list('default');
      return slots.every((slot) => slot.state === 'idle');
    }, 'all slots idle');
    const metrics = await dialler.metrics.registry.getSingleMetricAsString(
      'voxdialler_attempts_total',
    );
    assert.match(metrics, /status="completed"} 3/);
    assert.match(metrics, /status="busy"} 2/);
    assert.match(metrics, /status="no-answer"} 2/);
    assert.match(metrics, /status="failed"} 2/);
  });

  it('sends the place-call request the carrier expects', () => {
    const request = stack.carrier.placed[0];
    assert.ok(request !== undefined);
    assert.equal(request.from, '+15550009999');
    assert.equal(request.ringTimeoutMs, 30_000);
    assert.match(request.statusCallbackUrl, /^http:\/\/127\.0\.0\.1:\d+\/carrier\/status$/);
    assert.equal(request.customParameters.botId, 'bot-1');
  });
});

describe('retry backoff', () => {
  let stack: Stack;
  let dialler: Dialler;

  before(async () => {
    stack = await startStack({
      campaign: { maxAttempts: 3, retryBackoffMs: 300, concurrency: 1 },
      contacts: [{ scenario: 'busy' }],
      workerIds: ['w1'],
    });
    dialler = diallerFor(stack);
    await dialler.start();
    await waitFor(() => stack.bridge.finished, 'contact final', 20_000);
  });

  after(async () => {
    await dialler?.stop();
    await stack?.close();
  });

  it('doubles the delay per attempt and stops at maxAttempts', () => {
    const finals = stack.bridge.reports.filter((report) => report.body.contact !== undefined);
    assert.equal(finals.length, 3);
    const delays = finals.slice(0, 2).map((report) => {
      return Date.parse(report.body.contact?.nextAttemptAt ?? '') - Date.parse(report.body.at);
    });
    assert.deepEqual(delays, [300, 600]);
    assert.deepEqual(finals[2]?.body.contact, { decision: 'failed' });
  });

  it('does not place a retry before it is due', () => {
    const dialling = stack.bridge.reports.filter((report) => report.body.status === 'dialling');
    const finals = stack.bridge.reports.filter((report) => report.body.contact !== undefined);
    assert.equal(dialling.length, 3);
    for (const index of [0, 1]) {
      const dueAt = Date.parse(finals[index]?.body.contact?.nextAttemptAt ?? '');
      const placedAt = Date.parse(dialling[index + 1]?.body.at ?? '');
      assert.ok(placedAt >= dueAt, `attempt ${index + 2} placed ${dueAt - placedAt} ms early`);
    }
  });
});

describe('in-flight limit', () => {
  it('never places more calls than idle slots', async () => {
    const stack = await startStack({
      campaign: { maxAttempts: 1, retryBackoffMs: 100, concurrency: 50 },
      contacts: Array.from({ length: 8 }, () => ({ scenario: 'speak' as const })),
      workerIds: ['w1', 'w2'],
    });
    stack.carrier.script = () => [
      { status: 'answered', delayMs: 20 },
      { status: 'completed', delayMs: 150 },
    ];
    const dialler = diallerFor(stack, { pacingIntervalMs: 20 });
    try {
      await dialler.start();
      await waitFor(() => stack.bridge.finished, 'every contact final', 20_000);
      assert.equal(stack.carrier.placed.length, 8);
      assert.ok(stack.carrier.maxLive <= 2, `max live calls ${stack.carrier.maxLive}`);
      assert.ok(stack.carrier.maxLive >= 1);
      assert.ok(Math.max(...stack.bridge.claimLimits) <= 2);
    } finally {
      await dialler.stop();
      await stack.close();
    }
  });

  it('requeues attempts claimed over the limit', async () => {
    const stack = await startStack({
      campaign: { maxAttempts: 1, retryBackoffMs: 100, concurrency: 50 },
      contacts: Array.from({ length: 3 }, () => ({ scenario: 'speak' as const })),
      workerIds: ['w1'],
    });
    stack.bridge.ignoreLimit = true;
    const dialler = diallerFor(stack, { pacingIntervalMs: 20 });
    try {
      await dialler.start();
      await waitFor(() => stack.bridge.finished, 'every contact final', 20_000);
      assert.ok(stack.bridge.requeues.length >= 2);
      assert.ok(stack.bridge.requeues.every((requeue) => requeue.reason === 'over-claim'));
      assert.equal(stack.carrier.maxLive, 1);
      assert.equal(stack.carrier.placed.length, 3);
    } finally {
      await dialler.stop();
      await stack.close();
    }
  });

  it('stays under maxInFlight with more slots', async () => {
    const stack = await startStack({
      campaign: { maxAttempts: 1, retryBackoffMs: 100, concurrency: 50 },
      contacts: Array.from({ length: 6 }, () => ({ scenario: 'speak' as const })),
      workerIds: ['w1', 'w2', 'w3', 'w4'],
    });
    stack.carrier.script = () => [
      { status: 'answered', delayMs: 20 },
      { status: 'completed', delayMs: 150 },
    ];
    const dialler = diallerFor(stack, { pacingIntervalMs: 20, maxInFlight: 1 });
    try {
      await dialler.start();
      await waitFor(() => stack.bridge.finished, 'every contact final', 20_000);
      assert.equal(stack.carrier.maxLive, 1);
    } finally {
      await dialler.stop();
      await stack.close();
    }
  });
});
