/**
 * `/metrics` after a call: the setup timeline histograms, frames in and out, late and lost
 * inbound frames, the playback queue and the per-frame processing time.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encodeMulaw } from '@voxfleet/audio';
import { CallMediaMetrics } from '../src/call/media-metrics.js';
import { WorkerMetrics } from '../src/metrics.js';
import { Harness, attachBody, postJson, waitUntil } from './support/harness.js';
import { TwilioCaller } from './support/twilio-caller.js';

const harness = new Harness();
let url = '';

before(async () => {
  await harness.open();
  ({ url } = await harness.startWorker());
});

after(async () => {
  await harness.close();
});

/** Reads one sample of the Prometheus text output; undefined when it is absent. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const escaped = `${name}${labels === '' ? '' : `{${labels}}`}`.replace(/[{}.+]/g, '\\$&');
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function sendChunk(caller: TwilioCaller, chunk: number): void {
  caller.sendJson({
    event: 'media',
    streamSid: caller.streamSid,
    media: {
      track: 'inbound',
      chunk: String(chunk),
      timestamp: String(chunk * 20),
      payload: Buffer.from(encodeMulaw(new Int16Array(160))).toString('base64'),
    },
  });
}

test('metrics after a call show setup and media', async () => {
  const reservation = await harness.reserve();
  const reservedAt = new Date(Date.now() - 250).toISOString();
  const callStartedAt = Date.now();
  const attach = await postJson(`${url}/attach`, attachBody(reservation, { reservedAt }));
  assert.equal(attach.status, 200);
  const caller = await TwilioCaller.connect(String(attach.body['streamUrl']));
  caller.sendConnected();
  caller.sendStart();

  // Chunks 1-10 in order, then 13 (11 and 12 lost), then 12 late and 13 again.
  for (let chunk = 1; chunk <= 10; chunk++) sendChunk(caller, chunk);
  sendChunk(caller, 13);
  sendChunk(caller, 12);
  sendChunk(caller, 13);

  await caller.waitForMark('greeting');
  caller.sendDtmf('1');
  await caller.waitForMark('goodbye');
  await caller.waitForClose();
  await harness.bridge.waitForResult(reservation.callId);
  await waitUntil(async () => (await fetch(`${url}/ready`)).status === 200, 'worker idle');

  const text = await (await fetch(`${url}/metrics`)).text();
  const setup = 'voxfleet_worker_call_setup_seconds';
  for (const phase of [
    'reserve-to-attach',
    'attach-to-stream',
    'stream-to-first-inbound-media',
    'first-inbound-media-to-first-bot-audio',
    'stream-to-first-audio',
  ]) {
    assert.equal(sample(text, `${setup}_count`, `phase="${phase}"`), 1, `${phase} count`);
    const seconds = sample(text, `${setup}_sum`, `phase="${phase}"`);
    assert.ok(seconds !== undefined, `${phase} has no sum`);
    assert.ok(seconds >= 0, `${phase} took ${seconds} s`);
    assert.ok(seconds < 5, `${phase} took ${seconds} s`);
  }
  const reserveToAttach = sample(text, `${setup}_sum`, 'phase="reserve-to-attach"') ?? 0;
  assert.ok(reserveToAttach >= 0.25, `reserve-to-attach is ${reserveToAttach} s`);

  // All 13 media messages count as inbound frames: the Twilio decoder passes late ones on.
  const inbound = sample(text, 'voxfleet_worker_media_frames_total', 'direction="inbound"');
  assert.equal(inbound, 13);
  const outbound = sample(text, 'voxfleet_worker_media_frames_total', 'direction="outbound"');
  assert.ok(outbound !== undefined, 'no outbound frame count');
  assert.ok(outbound > 10, `outbound frames: ${outbound}`);
  assert.equal(sample(text, 'voxfleet_worker_lost_frames_total'), 2);
  assert.equal(sample(text, 'voxfleet_worker_late_frames_total'), 2);

  assert.equal(sample(text, 'voxfleet_worker_playback_queue_frames'), 0);
  const depthSamples = sample(text, 'voxfleet_worker_playback_queue_depth_frames_count');
  assert.equal(depthSamples, outbound);

  const processed = sample(text, 'voxfleet_worker_frame_processing_seconds_count');
  assert.ok(processed !== undefined, 'no processing count');
  assert.ok(processed >= 15, `processed messages: ${processed}`);
  // In seconds, so the handling time of all messages is above zero and below the call's length.
  const processingSeconds = sample(text, 'voxfleet_worker_frame_processing_seconds_sum');
  assert.ok(processingSeconds !== undefined, 'no processing time');
  assert.ok(processingSeconds > 0, 'processing time is zero');
  assert.ok(
    processingSeconds < (Date.now() - callStartedAt) / 1000,
    'processing time over wall time',
  );
});

test('timestamp gaps count lost frames by frame length', async () => {
  const metrics = new WorkerMetrics();
  const media = new CallMediaMetrics(metrics, Date.now(), undefined);
  media.streamStarted();
  // 100 ms frames without a chunk number: 0, 100, 400 (two lost), 300 (late), 500.
  for (const timestampMs of [0, 100, 400, 300, 500]) {
    media.inboundFrame({ timestampMs, durationMs: 100 });
  }

  const text = await metrics.registry.metrics();
  assert.equal(sample(text, 'voxfleet_worker_lost_frames_total'), 2);
  assert.equal(sample(text, 'voxfleet_worker_late_frames_total'), 1);
  assert.equal(sample(text, 'voxfleet_worker_media_frames_total', 'direction="inbound"'), 5);
});
