import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { Harness, attachBody, postJson, waitUntil } from './support/harness.js';
import { TwilioCaller } from './support/twilio-caller.js';

let harness: Harness;

beforeEach(async () => {
  harness = await new Harness().open();
});

afterEach(async () => {
  await harness.close();
});

/** Runs one call that ends with DTMF `digit`; the runtime config must be reachable. */
async function runCall(url: string, digit: string): Promise<string> {
  const reservation = await harness.reserve();
  const attach = await postJson(`${url}/attach`, attachBody(reservation));
  assert.equal(attach.status, 200);
  const caller = await TwilioCaller.connect(String(attach.body['streamUrl']));
  caller.sendStart();
  await caller.waitForMark('greeting');
  await caller.sendAudio(new Int16Array(1600), 0);
  caller.sendDtmf(digit);
  await caller.waitForMark('goodbye');
  await caller.waitForClose();
  return reservation.callId;
}

async function listDir(path: string): Promise<string[]> {
  return readdir(path).catch(() => []);
}

test('spooled result waits for a bridge outage, then delivers', async () => {
  const { url } = await harness.startWorker();

  // The config loads; the bridge goes down while the call runs.
  const reservation = await harness.reserve();
  const attach = await postJson(`${url}/attach`, attachBody(reservation));
  const caller = await TwilioCaller.connect(String(attach.body['streamUrl']));
  caller.sendStart();
  await caller.waitForMark('greeting');
  await harness.bridge.stop();
  caller.sendDtmf('1');
  await caller.waitForMark('goodbye');
  await caller.waitForClose();

  // The worker is idle again at once, with the result waiting in its spool.
  await waitUntil(async () => (await fetch(`${url}/ready`)).status === 200, 'ready');
  const pending = join(harness.dir, 'w1', 'spool', 'pending');
  assert.equal((await listDir(pending)).length, 1);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(harness.bridge.results.length, 0);

  // The bridge returns 503 for a while, then recovers.
  harness.bridge.failWith = 503;
  await harness.bridge.start();
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(harness.bridge.results.length, 0);
  harness.bridge.failWith = null;

  const result = await harness.bridge.waitForResult(reservation.callId, 5_000);
  assert.equal(result.outcome, 'pressed-1');
  assert.equal(result.recording?.key, `recordings/${reservation.callId}.wav`);
  const posted = result.timeline.find((event) => event.event === 'result-posted');
  assert.ok(posted !== undefined);
  assert.ok(Number(posted.detail?.['attempt']) > 1, 'result went out on its first attempt');
  await waitUntil(async () => (await listDir(pending)).length === 0, 'spool emptied');
});

test('spooled result is delivered by the next run after a restart', async () => {
  const first = await harness.startWorker({ workerId: 'w1' });
  const callId = await runCall(first.url, '1');
  await harness.bridge.waitForResult(callId);

  // Second call: the bridge dies after the config loaded, and the worker stops.
  const reservation = await harness.reserve();
  const attach = await postJson(`${first.url}/attach`, attachBody(reservation));
  const caller = await TwilioCaller.connect(String(attach.body['streamUrl']));
  caller.sendStart();
  await caller.waitForMark('greeting');
  await harness.bridge.stop();
  caller.sendDtmf('2');
  await caller.waitForMark('goodbye');
  await caller.waitForClose();
  await first.worker.whenCallEnded();
  await first.worker.stop();

  const pending = join(harness.dir, 'w1', 'spool', 'pending');
  assert.equal((await listDir(pending)).length, 1);

  await harness.bridge.start();
  await harness.startWorker({ workerId: 'w1' });
  const result = await harness.bridge.waitForResult(reservation.callId, 5_000);
  assert.equal(result.outcome, 'pressed-2');
  assert.ok(harness.bridge.recordings.some((r) => r.callId === reservation.callId));
  await waitUntil(async () => (await listDir(pending)).length === 0, 'spool emptied');
});

test('result rejected with 400 moves to the rejected folder', async () => {
  const { url } = await harness.startWorker();
  const reservation = await harness.reserve();
  const attach = await postJson(`${url}/attach`, attachBody(reservation));
  const caller = await TwilioCaller.connect(String(attach.body['streamUrl']));
  caller.sendStart();
  await caller.waitForMark('greeting');
  harness.bridge.failWith = 400;
  caller.sendDtmf('1');
  await caller.waitForMark('goodbye');
  await caller.waitForClose();

  const rejected = join(harness.dir, 'w1', 'spool', 'rejected');
  await waitUntil(async () => (await listDir(rejected)).length === 1, 'rejected item');
  assert.equal((await listDir(join(harness.dir, 'w1', 'spool', 'pending'))).length, 0);
  const logged = harness.logs.lines.some(
    (line) => line['msg'] === 'voxbridge rejected spooled item' && line['level'] === 'error',
  );
  assert.ok(logged, 'rejection was not logged as an error');
});

test('rejected recording still lets the result through', async () => {
  const { url } = await harness.startWorker();
  harness.bridge.failRecordingWith = 413;
  const callId = await runCall(url, '1');

  const result = await harness.bridge.waitForResult(callId);
  assert.equal(result.outcome, 'pressed-1');
  assert.equal(result.recording, null);
  assert.equal(harness.bridge.recordings.length, 0);
  const logged = harness.logs.lines.some(
    (line) => line['msg'] === 'voxbridge rejected recording; posting result without it',
  );
  assert.ok(logged, 'dropped recording was not logged');
});
