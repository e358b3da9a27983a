import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { parseWav } from '@voxfleet/audio';
import { CallResult } from '@voxfleet/schema';
import { Harness, SOUNDS_DIR, attachBody, postJson, waitUntil } from './support/harness.js';
import { TwilioCaller, loadPcm } from './support/twilio-caller.js';

const harness = new Harness();
let url = '';

before(async () => {
  await harness.open();
  ({ url } = await harness.startWorker());
});

after(async () => {
  await harness.close();
});

async function attachAndConnect(): Promise<{ callId: string; caller: TwilioCaller }> {
  const reservation = await harness.reserve();
  const attach = await postJson(`${url}/attach`, attachBody(reservation));
  assert.equal(attach.status, 200);
  const caller = await TwilioCaller.connect(String(attach.body['streamUrl']));
  caller.sendConnected();
  caller.sendStart();
  return { callId: reservation.callId, caller };
}

test('full call with DTMF posts result, transcript, timeline and recording', async () => {
  const { callId, caller } = await attachAndConnect();
  const hello = loadPcm(join(SOUNDS_DIR, 'hello.wav'));

  await caller.waitForMark('greeting');
  const framesSent = await caller.sendAudio(hello, 1);
  caller.sendDtmf('1');
  await caller.waitForMark('goodbye');
  assert.equal(await caller.waitForClose(), 1000);

  const result = CallResult.parse(await harness.bridge.waitForResult(callId));
  assert.equal(result.status, 'completed');
  assert.equal(result.outcome, 'pressed-1');
  assert.equal(result.hangupBy, 'bot');
  assert.equal(result.workerId, 'w1');
  assert.equal(result.botId, 'bot-1');
  assert.equal(result.durationMs, framesSent * 20);
  assert.ok(result.transcript.some((entry) => entry.kind === 'dtmf' && entry.digit === '1'));
  assert.ok(result.transcript.some((entry) => entry.kind === 'prompt' && entry.nodeId === 'menu'));

  const events = result.timeline.map((entry) => entry.event);
  for (const event of [
    'attached',
    'stream-connected',
    'stream-started',
    'config-loaded',
    'first-bot-audio',
    'first-inbound-media',
    'ended',
    'result-posted',
  ]) {
    assert.ok(events.includes(event), `timeline lacks ${event}: ${events.join(', ')}`);
  }
  assert.ok(events.indexOf('attached') < events.indexOf('stream-started'));
  assert.ok(events.indexOf('stream-started') < events.indexOf('config-loaded'));

  const recording = harness.bridge.recordings.find((r) => r.callId === callId);
  assert.ok(recording !== undefined, 'recording was not uploaded');
  assert.equal(recording.contentType, 'audio/wav');
  const wav = parseWav(recording.body);
  assert.equal(wav.channels, 2);
  assert.equal(wav.sampleRate, 8000);
  assert.equal(result.recording?.key, `recordings/${callId}.wav`);
  assert.equal(result.recording?.bytes, recording.body.byteLength);

  // The greeting went out as 160-byte μ-law frames, each tagged with the stream's id.
  const media = caller.received.filter((message) => message.event === 'media');
  assert.ok(media.length >= Math.floor(hello.length / 160));
  for (const message of media) {
    assert.equal(message.streamSid, caller.streamSid);
    assert.equal(Buffer.from(message.media?.payload ?? '', 'base64').byteLength, 160);
  }

  await waitUntil(async () => (await fetch(`${url}/ready`)).status === 200, 'worker ready');
  const slots = await harness.registry.list();
  assert.equal(slots.find((slot) => slot.workerId === 'w1')?.state, 'idle');
});

test('malformed frames are ignored while the call goes on', async () => {
  const { callId, caller } = await attachAndConnect();
  await caller.waitForMark('greeting');

  caller.sendRaw('{not json');
  caller.sendJson({ event: 'speak', streamSid: caller.streamSid });
  caller.sendJson({ event: 'media', streamSid: caller.streamSid, media: { payload: 42 } });
  caller.sendRaw(Buffer.from([1, 2, 3, 4]), true);
  caller.sendJson({
    event: 'media',
    streamSid: caller.streamSid,
    media: { payload: 'A'.repeat(70 * 1024) },
  });
  caller.sendJson({ event: 'dtmf', streamSid: 'MZother', dtmf: { digit: '9' } });
  await caller.sendAudio(new Int16Array(1600), 0);
  assert.ok(caller.isOpen, 'the stream closed after malformed frames');

  caller.sendDtmf('2');
  await caller.waitForMark('goodbye');
  await caller.waitForClose();

  const result = await harness.bridge.waitForResult(callId);
  assert.equal(result.status, 'completed');
  assert.equal(result.outcome, 'pressed-2');
  assert.ok(!result.transcript.some((entry) => entry.kind === 'dtmf' && entry.digit === '9'));

  const metrics = await (await fetch(`${url}/metrics`)).text();
  for (const reason of [
    'invalid-json',
    'invalid-frame',
    'binary',
    'too-large',
    'wrong-stream-sid',
  ]) {
    assert.match(
      metrics,
      new RegExp(`voxfleet_worker_invalid_frames_total\\{reason="${reason}"\\} [1-9]`),
    );
  }
  const warned = harness.logs.lines.some((line) => line['msg'] === 'inbound frames ignored');
  assert.ok(warned, 'ignored frames were not logged');
});

test('caller stop before DTMF ends the call as caller hangup', async () => {
  const { callId, caller } = await attachAndConnect();
  await caller.waitForMark('greeting');
  await caller.sendAudio(new Int16Array(800), 0);
  caller.sendStop();
  caller.close();

  const result = await harness.bridge.waitForResult(callId);
  assert.equal(result.outcome, 'caller-hangup');
  assert.equal(result.hangupBy, 'caller');
  assert.equal(harness.bridge.results.filter((r) => r.callId === callId).length, 1);
  await waitUntil(async () => (await fetch(`${url}/ready`)).status === 200, 'worker ready');
});

test('token in start parameters proves a stream URL without one', async () => {
  const reservation = await harness.reserve();
  const attach = await postJson(`${url}/attach`, attachBody(reservation));
  const streamUrl = new URL(String(attach.body['streamUrl']));
  streamUrl.search = '';

  const caller = await TwilioCaller.connect(streamUrl.toString());
  caller.sendConnected();
  caller.sendStart({ token: reservation.token, callId: reservation.callId });
  await caller.waitForMark('greeting');
  caller.sendDtmf('3');
  await caller.waitForMark('goodbye');
  await caller.waitForClose();
  const result = await harness.bridge.waitForResult(reservation.callId);
  assert.equal(result.outcome, 'pressed-3');
});

test('wrong token in start parameters closes the stream unprocessed', async () => {
  const reservation = await harness.reserve();
  const attach = await postJson(`${url}/attach`, attachBody(reservation));
  const streamUrl = new URL(String(attach.body['streamUrl']));
  streamUrl.search = '';

  const intruder = await TwilioCaller.connect(streamUrl.toString());
  intruder.sendConnected();
  await intruder.sendAudio(new Int16Array(800), 0);
  intruder.sendStart({ token: 'not-the-token' });
  assert.equal(await intruder.waitForClose(), 1008);
  assert.equal(intruder.received.length, 0);
  assert.equal(harness.bridge.configRequests.length, 4);

  // The attached call still takes the right stream afterwards.
  const caller = await TwilioCaller.connect(String(attach.body['streamUrl']));
  caller.sendStart();
  await caller.waitForMark('greeting');
  caller.sendStop();
  caller.close();
  const result = await harness.bridge.waitForResult(reservation.callId);
  assert.equal(result.outcome, 'caller-hangup');
});

test('runtime config failure ends the call as failed', async () => {
  const reservation = await harness.reserve();
  const attach = await postJson(`${url}/attach`, attachBody(reservation));
  harness.bridge.failWith = 500;
  const caller = await TwilioCaller.connect(String(attach.body['streamUrl']));
  caller.sendStart();
  assert.equal(await caller.waitForClose(), 1000);
  harness.bridge.failWith = null;

  const result = await harness.bridge.waitForResult(reservation.callId);
  assert.equal(result.status, 'failed');
  assert.equal(result.outcome, 'error');
  assert.equal(result.hangupBy, 'system');
  assert.match(result.error ?? '', /runtime config failed/);
  assert.ok(result.timeline.some((event) => event.event === 'config-failed'));
  assert.equal(result.recording, null);
});

test('re-registration during a call keeps the slot busy', async () => {
  const { callId, caller } = await attachAndConnect();
  await caller.waitForMark('greeting');
  await harness.registry.deregister('w1');

  await waitUntil(async () => {
    const slots = await harness.registry.list();
    return slots.some((slot) => slot.workerId === 'w1');
  }, 're-registration');
  const slot = (await harness.registry.list()).find((view) => view.workerId === 'w1');
  assert.equal(slot?.state, 'busy');
  assert.equal(slot?.reservation?.callId, callId);

  caller.sendDtmf('1');
  await caller.waitForMark('goodbye');
  await caller.waitForClose();
  await harness.bridge.waitForResult(callId);
  await waitUntil(async () => {
    const slots = await harness.registry.list();
    return slots.find((view) => view.workerId === 'w1')?.state === 'idle';
  }, 'slot idle after the call');
});
