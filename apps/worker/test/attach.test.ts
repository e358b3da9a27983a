import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Harness, attachBody, postJson, waitUntil } from './support/harness.js';
import { TwilioCaller, UpgradeRejectedError } from './support/twilio-caller.js';

const harness = new Harness();
let url = '';

before(async () => {
  await harness.open();
  ({ url } = await harness.startWorker());
});

after(async () => {
  await harness.close();
});

async function isReady(): Promise<boolean> {
  return (await fetch(`${url}/ready`)).status === 200;
}

async function rejectedUpgrade(streamUrl: string): Promise<UpgradeRejectedError> {
  try {
    const caller = await TwilioCaller.connect(streamUrl);
    caller.terminate();
  } catch (err) {
    if (err instanceof UpgradeRejectedError) return err;
    throw err;
  }
  throw new Error(`upgrade to ${streamUrl} was accepted`);
}

test('health and ready report an idle registered worker', async () => {
  const health = await fetch(`${url}/health`);
  assert.equal(health.status, 200);
  await waitUntil(isReady, 'ready');
  const ready = (await (await fetch(`${url}/ready`)).json()) as Record<string, unknown>;
  assert.equal(ready['state'], 'idle');
});

test('attach rejects an invalid body with 400', async () => {
  const reservation = await harness.reserve();
  const response = await postJson(`${url}/attach`, { ...attachBody(reservation), to: '12345' });
  assert.equal(response.status, 400);
  const error = response.body['error'] as Record<string, unknown>;
  assert.equal(error['code'], 'INVALID_REQUEST');
  assert.match(String(error['message']), /E\.164/);

  const text = await fetch(`${url}/attach`, { method: 'POST', body: 'x'.repeat(100) });
  assert.equal(text.status, 400);
  const big = await fetch(`${url}/attach`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ padding: 'x'.repeat(40_000) }),
  });
  assert.equal(big.status, 413);
  await harness.registry.release(reservation.workerId, reservation.token);
});

test('attach with a wrong token is rejected with 403', async () => {
  const reservation = await harness.reserve();
  const response = await postJson(
    `${url}/attach`,
    attachBody(reservation, { reservationToken: 'forged-token' }),
  );
  assert.equal(response.status, 403);
  assert.equal((response.body['error'] as Record<string, unknown>)['code'], 'RESERVATION_INVALID');
  assert.ok(await isReady(), 'worker not idle after a rejected attach');
  await harness.registry.release(reservation.workerId, reservation.token);
});

test('attach with an expired reservation is rejected with 403', async () => {
  const reservation = await harness.reserve(harness.nextCallId(), 100);
  await new Promise((resolve) => setTimeout(resolve, 250));
  const response = await postJson(`${url}/attach`, attachBody(reservation));
  assert.equal(response.status, 403);
  const error = response.body['error'] as Record<string, unknown>;
  assert.equal(error['code'], 'RESERVATION_INVALID');
  assert.match(String(error['message']), /expired/);
});

test('WebSocket without an attached call is rejected', async () => {
  const wsUrl = url.replace('http:', 'ws:');
  const rejection = await rejectedUpgrade(`${wsUrl}/ws/bot-1?callId=nope&token=nope`);
  assert.equal(rejection.status, 404);
  assert.match(rejection.body, /CALL_NOT_FOUND/);
});

test('one call per worker: second attach 409, second WebSocket rejected', async () => {
  const reservation = await harness.reserve();
  const attach = await postJson(`${url}/attach`, attachBody(reservation));
  assert.equal(attach.status, 200);
  const streamUrl = String(attach.body['streamUrl']);
  assert.equal(
    streamUrl,
    `${url.replace('http:', 'ws:')}/ws/bot-1?callId=${reservation.callId}&token=${reservation.token}`,
  );
  assert.equal(await isReady(), false);

  const second = await postJson(`${url}/attach`, attachBody(reservation, { callId: 'other' }));
  assert.equal(second.status, 409);
  assert.equal((second.body['error'] as Record<string, unknown>)['code'], 'WORKER_BUSY');

  const wrongBot = await rejectedUpgrade(streamUrl.replace('/ws/bot-1', '/ws/bot-2'));
  assert.equal(wrongBot.status, 403);
  const wrongToken = await rejectedUpgrade(streamUrl.replace(/token=[^&]+/, 'token=guess'));
  assert.equal(wrongToken.status, 403);
  const wrongCall = await rejectedUpgrade(streamUrl.replace(/callId=[^&]+/, 'callId=other'));
  assert.equal(wrongCall.status, 403);

  const caller = await TwilioCaller.connect(streamUrl);
  caller.sendConnected();
  caller.sendStart();
  await caller.waitForMark('greeting');

  const duplicate = await rejectedUpgrade(streamUrl);
  assert.equal(duplicate.status, 409);
  assert.ok(caller.isOpen, 'the running call was disturbed');

  caller.sendDtmf('1');
  await caller.waitForMark('goodbye');
  await caller.waitForClose();
  const result = await harness.bridge.waitForResult(reservation.callId);
  assert.equal(result.outcome, 'pressed-1');
  await waitUntil(isReady, 'ready after the call');

  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /voxfleet_worker_attach_rejections_total\{code="WORKER_BUSY"\} [1-9]/);
  assert.match(metrics, /voxfleet_worker_calls_total\{status="completed"\} [1-9]/);
});

test('two simultaneous attaches: exactly one wins', async () => {
  const reservation = await harness.reserve();
  const body = attachBody(reservation);
  const responses = await Promise.all([
    postJson(`${url}/attach`, body),
    postJson(`${url}/attach`, body),
    postJson(`${url}/attach`, body),
  ]);
  const statuses = responses.map((response) => response.status).sort();
  assert.deepEqual(statuses, [200, 409, 409]);

  const cancel = await postJson(`${url}/attach/${reservation.callId}/cancel`, {
    reservationToken: reservation.token,
    reason: 'no-answer',
  });
  assert.equal(cancel.status, 200);
  await waitUntil(isReady, 'ready after cancel');
  assert.equal(
    harness.bridge.results.some((r) => r.callId === reservation.callId),
    false,
  );
});

test('cancel checks call id and token', async () => {
  const reservation = await harness.reserve();
  await postJson(`${url}/attach`, attachBody(reservation));
  const unknown = await postJson(`${url}/attach/nope/cancel`, {
    reservationToken: reservation.token,
    reason: 'busy',
  });
  assert.equal(unknown.status, 404);
  const forged = await postJson(`${url}/attach/${reservation.callId}/cancel`, {
    reservationToken: 'forged',
    reason: 'busy',
  });
  assert.equal(forged.status, 403);
  const cancel = await postJson(`${url}/attach/${reservation.callId}/cancel`, {
    reservationToken: reservation.token,
    reason: 'busy',
  });
  assert.equal(cancel.status, 200);
  const slots = await harness.registry.list();
  assert.equal(slots[0]?.state, 'idle');
});

test('stream timeout frees the slot without a result', async () => {
  const reservation = await harness.reserve();
  const attach = await postJson(
    `${url}/attach`,
    attachBody(reservation, { streamTimeoutMs: 1_000 }),
  );
  assert.equal(attach.status, 200);
  const slotsDuring = await harness.registry.list();
  assert.equal(slotsDuring[0]?.state, 'busy');

  await waitUntil(isReady, 'ready after the stream timeout', 3_000);
  const slots = await harness.registry.list();
  assert.equal(slots[0]?.state, 'idle');
  assert.equal(
    harness.bridge.results.some((r) => r.callId === reservation.callId),
    false,
  );

  const late = await rejectedUpgrade(String(attach.body['streamUrl']));
  assert.equal(late.status, 404);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /voxfleet_worker_calls_total\{status="stream-timeout"\} 1/);
});

test('worker registers again after the registry lost it', async () => {
  await harness.registry.deregister('w1');
  assert.equal((await harness.registry.list()).length, 0);
  await waitUntil(
    async () => (await harness.registry.list()).some((slot) => slot.workerId === 'w1'),
    're-registration',
  );
  const logged = harness.logs.lines.some(
    (line) => line['msg'] === 'registry lost this worker; registering again',
  );
  assert.ok(logged, 're-registration was not logged');
});

test('socket without a token cannot lock out the real stream', async () => {
  const reservation = await harness.reserve();
  const attach = await postJson(`${url}/attach`, attachBody(reservation));
  assert.equal(attach.status, 200);
  const streamUrl = new URL(String(attach.body['streamUrl']));
  const bareUrl = `${streamUrl.origin}${streamUrl.pathname}`;

  // Anyone with the bot id can open this one, and it proves nothing.
  const squatter = await TwilioCaller.connect(bareUrl);
  const second = await rejectedUpgrade(bareUrl);
  assert.equal(second.status, 409);

  // The carrier's stream carries the token and takes the call over.
  const carrier = await TwilioCaller.connect(streamUrl.toString());
  await waitUntil(async () => squatter.closeCode !== null, 'squatter closed');
  assert.equal(squatter.closeCode, 1008);
  assert.equal(carrier.isOpen, true);
  carrier.sendConnected();
  carrier.sendStart();
  await waitUntil(async () => !(await isReady()), 'call running');
  carrier.close();
  await waitUntil(isReady, 'ready after the call');
});

test('restarted worker frees the slot its dead process held', async () => {
  // A process that crashed mid-call left its registration and a confirmed reservation.
  await harness.registry.register({
    workerId: 'w-restarted',
    url: 'http://127.0.0.1:9',
    host: '127.0.0.1',
    pool: 'other',
    labels: {},
    ttlMs: 30_000,
  });
  const dead = await harness.registry.reserve({
    pool: 'other',
    callId: 'call-of-dead-process',
    reservationTtlMs: 10_000,
  });
  assert.ok(dead);
  assert.equal(await harness.registry.confirm('w-restarted', dead.token), 'confirmed');

  // The supervisor restarts it within the TTL, under the same worker id.
  const { worker } = await harness.startWorker({ workerId: 'w-restarted', pool: 'other' });
  const slot = (await harness.registry.list('other')).find((s) => s.workerId === 'w-restarted');
  assert.equal(slot?.state, 'idle');
  assert.equal(slot?.reservation, null);
  await worker.stop();
});

test('heartbeat restores a confirm the registry lost', async () => {
  const reservation = await harness.reserve();
  const attach = await postJson(`${url}/attach`, attachBody(reservation));
  assert.equal(attach.status, 200);
  const busy = async (): Promise<boolean> => {
    const slot = (await harness.registry.list()).find((s) => s.workerId === 'w1');
    return slot?.state === 'busy' && slot.reservation?.callId === reservation.callId;
  };
  await waitUntil(busy, 'slot busy after attach');

  // As a Redis failover that lost the confirm would leave it: the slot looks free.
  assert.equal(await harness.registry.release('w1', reservation.token), true);
  await waitUntil(busy, 'slot busy again after a heartbeat');

  const cancel = await postJson(`${url}/attach/${reservation.callId}/cancel`, {
    reservationToken: reservation.token,
    reason: 'busy',
  });
  assert.equal(cancel.status, 200);
  await waitUntil(isReady, 'ready after cancel');
  await waitUntil(
    async () => (await harness.registry.list()).find((s) => s.workerId === 'w1')?.state === 'idle',
    'slot idle after cancel',
  );
});

test('drain request needs the internal token and stops new attaches', async () => {
  const unauthorized = await postJson(`${url}/drain`, {});
  assert.equal(unauthorized.status, 401);

  const reservation = await harness.reserve();
  const drain = await postJson(`${url}/drain`, {}, { authorization: 'Bearer test-internal-token' });
  assert.equal(drain.status, 202);
  const response = await postJson(`${url}/attach`, attachBody(reservation));
  assert.equal(response.status, 503);
  assert.equal((response.body['error'] as Record<string, unknown>)['code'], 'WORKER_DRAINING');
  assert.equal((await fetch(`${url}/ready`)).status, 503);
  await waitUntil(async () => (await harness.registry.list()).length === 0, 'deregistered');
});
