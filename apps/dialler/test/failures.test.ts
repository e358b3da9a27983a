import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';

import { withDialler } from './dialler-for.js';
import { waitFor, type Stack } from './harness.js';

const oneContact = (scenario: 'speak' | 'busy' | 'no-answer' = 'speak') => ({
  campaign: { maxAttempts: 2, retryBackoffMs: 60_000, concurrency: 5 },
  contacts: [{ scenario }],
  workerIds: ['w1', 'w2'],
});

async function slotStates(stack: Stack): Promise<Record<string, string>> {
  const slots = await stack.registry.list('default');
  return Object.fromEntries(slots.map((slot) => [slot.workerId, slot.state]));
}

async function allIdle(stack: Stack): Promise<boolean> {
  const states = Object.values(await slotStates(stack));
  return states.length > 0 && states.every((state) => state === 'idle');
}

describe('attach failure', () => {
  it('releases the slot and tries the next one', async () => {
    await withDialler(
      oneContact(),
      {},
      async (stack, dialler) => {
        await waitFor(() => stack.bridge.finished, 'contact final');
        assert.equal(stack.bridge.contact('contact-1').state, 'done');
        assert.equal(stack.workers.rejected.length, 1);
        assert.equal(stack.workers.attaches.length, 1);
        assert.notEqual(stack.workers.attaches[0]?.workerId, stack.workers.rejected[0]?.workerId);
        await waitFor(() => allIdle(stack), 'both slots idle');
        const text = await dialler.metrics.registry.getSingleMetricAsString(
          'voxdialler_attach_failures_total',
        );
        assert.match(text, /voxdialler_attach_failures_total 1/);
      },
      (stack) => {
        stack.workers.rejectNext.push(409);
      },
    );
  });

  it('requeues when both slots reject', async () => {
    await withDialler(
      oneContact(),
      { pacingIntervalMs: 200 },
      async (stack) => {
        await waitFor(() => stack.bridge.requeues.length >= 1, 'a requeue');
        assert.equal(stack.bridge.requeues[0]?.reason, 'attach-failed');
        assert.equal(stack.carrier.placed.length, 0);
        assert.equal(stack.bridge.reports.length, 0);
        assert.equal(stack.bridge.contact('contact-1').state, 'pending');
        assert.ok(await allIdle(stack), JSON.stringify(await slotStates(stack)));
      },
      (stack) => {
        stack.workers.rejectWith.set('w1', 503);
        stack.workers.rejectWith.set('w2', 403);
      },
    );
  });
});

describe('unanswered call', () => {
  for (const scenario of ['busy', 'no-answer'] as const) {
    it(`cancels the attach and releases on ${scenario}`, async () => {
      await withDialler(oneContact(scenario), {}, async (stack) => {
        await waitFor(() => stack.bridge.reports.some((r) => r.body.contact), 'final report');
        const attach = stack.workers.attaches[0];
        assert.ok(attach !== undefined);
        await waitFor(() => stack.workers.cancels.length === 1, 'one cancel');
        const cancel = stack.workers.cancels[0];
        assert.equal(cancel?.callId, attach.callId);
        assert.equal(cancel?.token, attach.token);
        assert.equal(cancel?.reason, scenario);
        await waitFor(() => allIdle(stack), 'slots idle');
        const final = stack.bridge.reports.find((r) => r.body.contact)?.body;
        assert.equal(final?.status, scenario);
        assert.equal(final?.contact?.decision, 'retry');
      });
    });
  }

  it('cancels and reports failed when the carrier rejects the call', async () => {
    await withDialler(
      oneContact(),
      {},
      async (stack) => {
        await waitFor(() => stack.workers.cancels.length === 1, 'one cancel');
        await waitFor(() => stack.bridge.reports.some((r) => r.body.contact), 'final report');
        const statuses = stack.bridge.reports.map((r) => r.body.status);
        assert.deepEqual(statuses, ['dialling', 'failed']);
        assert.equal(stack.bridge.reports[1]?.body.reason, 'carrier-rejected');
        assert.equal(stack.bridge.reports[1]?.body.contact?.decision, 'retry');
        await waitFor(() => allIdle(stack), 'slots idle');
      },
      (stack) => {
        stack.carrier.failWith = 500;
      },
    );
  });
});

describe('carrier events', () => {
  it('ignores duplicates and late events', async () => {
    await withDialler(
      oneContact(),
      {},
      async (stack) => {
        await waitFor(() => stack.carrier.placed.length === 1, 'call placed');
        const request = stack.carrier.placed[0];
        assert.ok(request !== undefined);
        const outcomes: unknown[] = [];
        for (const status of ['ringing', 'ringing', 'answered', 'ringing', 'answered'] as const) {
          outcomes.push((await stack.carrier.send(request, status)).body);
        }
        await stack.workers.endCall(request.callId);
        outcomes.push((await stack.carrier.send(request, 'completed')).body);
        outcomes.push((await stack.carrier.send(request, 'completed')).body);
        outcomes.push((await stack.carrier.send(request, 'busy')).body);

        assert.deepEqual(
          outcomes.map((body) => (body as { outcome: string }).outcome),
          [
            'applied',
            'duplicate',
            'applied',
            'duplicate',
            'duplicate',
            'applied',
            'unknown-call',
            'unknown-call',
          ],
        );
        await waitFor(() => stack.bridge.finished, 'contact final');
        await sleep(100);
        const statuses = stack.bridge.reports.map((r) => r.body.status);
        assert.deepEqual(statuses, ['dialling', 'ringing', 'in-progress', 'completed']);
        assert.equal(stack.workers.cancels.length, 0);
      },
      (stack) => {
        stack.carrier.script = () => [];
      },
    );
  });

  it('rejects invalid callbacks with 400 and changes nothing', async () => {
    await withDialler(
      oneContact(),
      { carrierCallbackSecret: 'callback-secret' },
      async (stack, _dialler, url) => {
        await waitFor(() => stack.carrier.placed.length === 1, 'call placed');
        const request = stack.carrier.placed[0];
        assert.ok(request !== undefined);
        const post = (body: unknown, secret = 'callback-secret') =>
          fetch(`${url}/carrier/status`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-carrier-secret': secret },
            body: JSON.stringify(body),
          });
        const valid = {
          carrierCallId: 'sim-1',
          callId: request.callId,
          status: 'answered',
          at: new Date().toISOString(),
        };

        const badStatus = await post({ ...valid, status: 'picked-up' });
        assert.equal(badStatus.status, 400);
        const body = (await badStatus.json()) as { code: string; message: string };
        assert.equal(body.code, 'CARRIER_EVENT_INVALID');
        assert.match(body.message, /status/);
        assert.equal((await post({ ...valid, at: 'yesterday' })).status, 400);
        assert.equal((await post({ ...valid, extra: 1 })).status, 400);
        assert.equal((await post({ callId: request.callId })).status, 400);
        assert.equal((await post(valid, 'wrong-secret')).status, 401);

        await sleep(100);
        assert.deepEqual(
          stack.bridge.reports.map((r) => r.body.status),
          ['dialling'],
        );

        stack.carrier.secret = 'callback-secret';
        assert.equal((await stack.carrier.send(request, 'answered')).status, 200);
        await waitFor(() => stack.bridge.reports.length === 2, 'in-progress report');
        assert.equal(stack.bridge.reports[1]?.body.status, 'in-progress');
      },
      (stack) => {
        stack.carrier.script = () => [];
      },
    );
  });
});

describe('bridge outage', () => {
  it('delivers status reports once the bridge is back', async () => {
    await withDialler(
      oneContact(),
      {},
      async (stack) => {
        await waitFor(() => stack.carrier.placed.length === 1, 'call placed');
        const request = stack.carrier.placed[0];
        assert.ok(request !== undefined);
        await waitFor(() => stack.bridge.reports.length === 1, 'dialling report');

        stack.bridge.down = true;
        await stack.carrier.send(request, 'ringing');
        await stack.carrier.send(request, 'answered');
        await stack.workers.endCall(request.callId);
        await stack.carrier.send(request, 'completed');
        await sleep(800);
        assert.equal(stack.bridge.reports.length, 1);

        stack.bridge.down = false;
        await waitFor(() => stack.bridge.finished, 'contact final', 15_000);
        assert.deepEqual(
          stack.bridge.reports.map((r) => r.body.status),
          ['dialling', 'ringing', 'in-progress', 'completed'],
        );
        assert.equal(stack.bridge.contact('contact-1').state, 'done');
      },
      (stack) => {
        stack.carrier.script = () => [];
      },
    );
  });
});

describe('watchdog', () => {
  it('fails an attempt the carrier never ends', async () => {
    await withDialler(
      oneContact(),
      { attemptTimeoutMs: 300 },
      async (stack) => {
        await waitFor(() => stack.bridge.reports.some((r) => r.body.contact), 'final report');
        const final = stack.bridge.reports.find((r) => r.body.contact)?.body;
        assert.equal(final?.status, 'failed');
        assert.equal(final?.reason, 'attempt-timeout');
        assert.equal(final?.contact?.decision, 'retry');
        assert.equal(stack.workers.cancels.length, 1);
        await waitFor(() => allIdle(stack), 'slots idle');
      },
      (stack) => {
        stack.carrier.script = () => [{ status: 'ringing', delayMs: 10 }];
      },
    );
  });
});

describe('http routes', () => {
  it('serves health, readiness and metrics', async () => {
    await withDialler(
      { ...oneContact(), contacts: [] },
      { readyWindowMs: 500 },
      async (stack, _dialler, url) => {
        assert.equal((await fetch(`${url}/health`)).status, 200);
        await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 'ready');
        const metrics = await (await fetch(`${url}/metrics`)).text();
        for (const name of [
          'voxdialler_attempts_total',
          'voxdialler_reserve_failures_total',
          'voxdialler_attach_failures_total',
          'voxdialler_in_flight',
          'voxdialler_loop_tick_duration_seconds',
          'voxdialler_claim_duration_seconds',
        ]) {
          assert.match(metrics, new RegExp(`# TYPE ${name} `), name);
        }

        stack.bridge.down = true;
        await waitFor(async () => (await fetch(`${url}/ready`)).status === 503, 'not ready', 5_000);
      },
    );
  });
});
