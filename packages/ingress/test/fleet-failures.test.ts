/**
 * Worker failures behind the real haproxy: a worker drained during a call finishes it and
 * leaves rotation, and a killed worker is taken out while the others keep serving.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { INTERNAL_TOKEN } from '../../../apps/worker/test/support/bridge-stand-in.js';
import { FLEET_DOMAIN, FleetHarness, attachBodyFor, waitFor } from './support/fleet-harness.js';
import { StreamClient, isRejection, requestJson } from './support/stream-client.js';

const fleet = new FleetHarness(3);

before(async () => {
  await fleet.open();
});

after(async () => {
  await fleet.close();
});

async function openUnpinned(): Promise<string | undefined> {
  const opened = await StreamClient.open(
    `ws://127.0.0.1:${fleet.ingressPort}/ws/bot-1`,
    FLEET_DOMAIN,
  );
  assert.ok(isRejection(opened), 'a stream without an attached call was accepted');
  return opened.servedBy;
}

test('drain during a call finishes it and leaves rotation', async () => {
  const reservation = await fleet.reserve();
  assert.ok(reservation !== null);
  const attached = await requestJson({
    url: `${fleet.toIngress(reservation.url)}/attach`,
    host: FLEET_DOMAIN,
    body: attachBodyFor(reservation),
  });
  assert.equal(attached.status, 200);
  const stream = await StreamClient.open(
    fleet.toIngress(String(attached.body['streamUrl'])),
    FLEET_DOMAIN,
  );
  if (isRejection(stream)) assert.fail(`stream rejected: ${stream.status}`);
  stream.begin();
  await stream.waitForMedia(5);

  const worker = fleet.worker(reservation.workerId);
  const drain = await fetch(`http://127.0.0.1:${worker.port}/drain`, {
    method: 'POST',
    headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
  });
  assert.equal(drain.status, 202);
  await waitFor(
    async () => (await fleet.serverStatus(worker.id)).startsWith('DRAIN'),
    'worker drained',
  );
  for (let i = 0; i < 4; i++) {
    assert.notEqual(await openUnpinned(), worker.id, 'a draining worker got a new stream');
  }

  assert.ok(stream.isOpen, 'drain cut the call');
  stream.sendDtmf('1');
  await stream.waitForClose();
  const result = await fleet.bridge.waitForResult(reservation.callId, 15_000);
  assert.equal(result.status, 'completed');
  assert.equal(await worker.exited, 0);
  await waitFor(
    async () => (await fleet.serverStatus(worker.id)).startsWith('DOWN'),
    'exited worker down',
  );
});

test('killed worker leaves rotation and pinned requests get 503', async () => {
  const live = fleet.workers.filter((worker) => worker.child.exitCode === null);
  const victim = live[0];
  assert.equal(live.length, 2, 'the drain test should leave two live workers');
  assert.ok(victim !== undefined);
  victim.child.kill('SIGKILL');
  await victim.exited;

  // Before the health check notices, a balanced request that hits the dead worker is
  // retried on another one (retry-on conn-failure with redispatch).
  for (let i = 0; i < 6; i++) {
    assert.notEqual(await openUnpinned(), victim.id);
  }

  await waitFor(
    async () => (await fleet.serverStatus(victim.id)).startsWith('DOWN'),
    'killed worker down',
  );
  const pinned = await requestJson({
    url: `${fleet.ingressUrl}/w/${victim.id}/attach`,
    host: FLEET_DOMAIN,
    body: {},
  });
  assert.equal(pinned.status, 503);
  assert.equal((pinned.body['error'] as Record<string, unknown>)['code'], 'WORKER_UNAVAILABLE');
  for (let i = 0; i < 4; i++) {
    assert.equal(await openUnpinned(), live[1]?.id);
  }
});
