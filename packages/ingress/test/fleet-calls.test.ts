/**
 * Calls through the real haproxy (Debian's 2.6) to real worker processes: balancing of
 * `/ws/{botId}`, pinning to the reserved worker, the fast 503 of a full fleet, and a reload
 * with calls in progress.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FLEET_DOMAIN, FleetHarness, attachBodyFor } from './support/fleet-harness.js';
import {
  StreamClient,
  isRejection,
  requestJson,
  timeUpgradeResponse,
  type Rejection,
} from './support/stream-client.js';

const WORKERS = 3;
const fleet = new FleetHarness(WORKERS);

before(async () => {
  await fleet.open();
});

after(async () => {
  await fleet.close();
});

interface PlacedCall {
  callId: string;
  workerId: string;
  stream: StreamClient;
}

/** Reserves, attaches through the ingress and opens the stream, as the dialler and carrier do. */
async function placeCall(pinBy: 'path' | 'header'): Promise<PlacedCall | null> {
  const reservation = await fleet.reserve();
  if (reservation === null) return null;
  const attachUrl =
    pinBy === 'path' ? `${fleet.toIngress(reservation.url)}/attach` : `${fleet.ingressUrl}/attach`;
  const attached = await requestJson({
    url: attachUrl,
    host: FLEET_DOMAIN,
    body: attachBodyFor(reservation),
    headers: pinBy === 'header' ? { 'x-voxfleet-worker': reservation.workerId } : {},
  });
  assert.equal(attached.status, 200, JSON.stringify(attached.body));
  assert.equal(attached.servedBy, reservation.workerId);
  const streamUrl = String(attached.body['streamUrl']);
  assert.match(streamUrl, new RegExp(`/w/${reservation.workerId}/ws/bot-1\\?`));

  const opened = await StreamClient.open(fleet.toIngress(streamUrl), FLEET_DOMAIN);
  if (isRejection(opened)) assert.fail(`stream rejected: ${opened.status} ${opened.body}`);
  assert.equal(opened.servedBy, reservation.workerId);
  opened.begin();
  await opened.waitForMedia(5);
  return { callId: reservation.callId, workerId: reservation.workerId, stream: opened };
}

/** Presses 1, so the bot plays its goodbye and hangs up, then waits for the call result. */
async function endCall(call: PlacedCall): Promise<string> {
  call.stream.sendDtmf('1');
  await call.stream.waitForClose();
  const result = await fleet.bridge.waitForResult(call.callId, 15_000);
  return result.status;
}

async function openUnpinned(): Promise<StreamClient | Rejection> {
  return StreamClient.open(`ws://127.0.0.1:${fleet.ingressPort}/ws/bot-1`, FLEET_DOMAIN);
}

test('unpinned stream is balanced over idle workers', async () => {
  const servedBy = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const opened = await openUnpinned();
    // An idle worker has no attached call, so it rejects the stream itself (404).
    assert.ok(isRejection(opened), 'stream without an attached call was accepted');
    assert.equal(opened.status, 404);
    assert.match(opened.body, /CALL_NOT_FOUND/);
    assert.ok(opened.servedBy !== undefined, 'no x-voxfleet-served-by header');
    servedBy.add(opened.servedBy);
  }
  assert.ok(servedBy.size >= 2, `all requests went to ${[...servedBy].join(', ')}`);
});

test('public routes reject unknown hosts, paths and unnamed attaches', async () => {
  const unknownHost = await requestJson({
    url: `${fleet.ingressUrl}/ws/bot-1`,
    host: 'other.test',
  });
  assert.equal(unknownHost.status, 421);
  const metrics = await requestJson({ url: `${fleet.ingressUrl}/metrics`, host: FLEET_DOMAIN });
  assert.equal(metrics.status, 404);
  const unnamed = await requestJson({
    url: `${fleet.ingressUrl}/attach`,
    host: FLEET_DOMAIN,
    body: {},
  });
  assert.equal(unnamed.status, 400);
  assert.deepEqual(Object.keys(unnamed.body), ['error']);
  const stranger = await requestJson({
    url: `${fleet.ingressUrl}/w/fleet-b-x-w1/attach`,
    host: FLEET_DOMAIN,
    body: {},
  });
  assert.equal(stranger.status, 503);
});

test('N+1 calls to N workers give N calls and one fast 503', async () => {
  const placed = await Promise.all(
    Array.from({ length: WORKERS }, (_, index) => placeCall(index % 2 === 0 ? 'path' : 'header')),
  );
  const calls = placed.filter((call): call is PlacedCall => call !== null);
  assert.equal(calls.length, WORKERS);
  assert.equal(new Set(calls.map((call) => call.workerId)).size, WORKERS, 'a worker got two calls');
  assert.equal(await fleet.reserve(), null, 'the registry handed out a slot of a full fleet');

  // The extra inbound call tries the public stream URL and must be turned away at once.
  const rejected = await openUnpinned();
  assert.ok(isRejection(rejected), 'a full fleet accepted another stream');
  assert.equal(rejected.status, 503);
  const timings: number[] = [];
  for (let i = 0; i < 5; i++) {
    const timed = await timeUpgradeResponse(fleet.ingressPort, '/ws/bot-1', FLEET_DOMAIN);
    assert.equal(timed.status, 503);
    timings.push(timed.elapsedMs);
  }
  timings.sort((a, b) => a - b);
  const median = timings[2] ?? Infinity;
  assert.ok(median < 10, `rejections took ${timings.map((ms) => ms.toFixed(2)).join(', ')} ms`);

  const stats = await fleet.haproxy.serverStats('be_fleet_a');
  for (const call of calls) {
    assert.equal(stats.get(call.workerId)?.['scur'], '1', `${call.workerId} sessions`);
    assert.ok(call.stream.isOpen, `${call.workerId} stream closed`);
  }
  for (const call of calls) assert.equal(await endCall(call), 'completed');
  await fleet.waitForServers((status) => status === 'UP', 'workers back in rotation');
});

test('reload keeps calls and never offers a busy worker', async () => {
  const first = await placeCall('path');
  const second = await placeCall('path');
  assert.ok(first !== null, 'first call not placed');
  assert.ok(second !== null, 'second call not placed');
  await fleet.waitForServers(
    (status, id) =>
      id === first.workerId || id === second.workerId
        ? status.startsWith('DRAIN')
        : status === 'UP',
    'busy workers drained',
  );

  await fleet.haproxy.reload();
  // The new process starts from the saved state: busy workers are still drained.
  for (const call of [first, second]) {
    const status = await fleet.serverStatus(call.workerId);
    assert.ok(status.startsWith('DRAIN'), `${call.workerId} is ${status} after the reload`);
  }
  const idle = fleet.workers
    .map((worker) => worker.id)
    .find((id) => id !== first.workerId && id !== second.workerId);
  for (let i = 0; i < 4; i++) {
    const opened = await openUnpinned();
    assert.ok(isRejection(opened));
    assert.equal(opened.servedBy, idle, 'the new process offered a busy worker');
  }

  // Calls in progress keep flowing through the old process: the digit reaches the worker
  // and the goodbye prompt comes back before the hang-up.
  for (const call of [first, second]) {
    assert.ok(call.stream.isOpen, `${call.workerId} stream closed by the reload`);
    const mediaBefore = call.stream.mediaReceived;
    assert.equal(await endCall(call), 'completed');
    assert.ok(call.stream.mediaReceived > mediaBefore, `${call.workerId} sent no goodbye audio`);
  }
});
