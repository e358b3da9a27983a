/**
 * Call endings and limits: hang-ups from both sides in many orders end the call exactly
 * once, and the bot's `maxCallDurationMs` holds on media time (engine) and on wall time
 * (worker guard).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WALL_CLOCK_SLACK_MS } from '../src/call/active-call.js';
import { createEngineSession } from '../src/engine-binding.js';
import type { WorkerHandle } from '../src/index.js';
import { TEST_BOT_CONFIG } from './support/bridge-stand-in.js';
import { Harness, attachBody, postJson, waitUntil } from './support/harness.js';
import { TwilioCaller } from './support/twilio-caller.js';

const harness = new Harness();
let url = '';
let worker: WorkerHandle;

before(async () => {
  await harness.open();
  ({ url, worker } = await harness.startWorker());
});

after(async () => {
  await harness.close();
});

async function isReady(): Promise<boolean> {
  return (await fetch(`${url}/ready`)).status === 200;
}

async function attachAndConnect(
  targetUrl = url,
): Promise<{ callId: string; caller: TwilioCaller }> {
  const reservation = await harness.reserve();
  const attach = await postJson(`${targetUrl}/attach`, attachBody(reservation));
  assert.equal(attach.status, 200);
  const caller = await TwilioCaller.connect(String(attach.body['streamUrl']));
  caller.sendConnected();
  caller.sendStart();
  return { callId: reservation.callId, caller };
}

function countLogs(callId: string, message: string): number {
  return harness.logs.lines.filter((line) => line['callId'] === callId && line['msg'] === message)
    .length;
}

function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

type Ending = (caller: TwilioCaller) => void | Promise<void>;

const stop: Ending = (caller) => caller.sendStop();
const close: Ending = (caller) => caller.close();
/** The carrier drops the connection without a close frame. */
const carrierHangup: Ending = (caller) => caller.terminate();
/** The bot hangs up: the scripted session does so once its `goodbye` mark comes back. */
const engineHangup: Ending = (caller) =>
  caller.sendJson({ event: 'mark', streamSid: caller.streamSid, mark: { name: 'goodbye' } });
const abort: Ending = () => worker.abortCall('test-abort');

const ORDERS: Array<{ name: string; steps: Ending[]; interleaved: boolean }> = [
  { name: 'stop, stop, close', steps: [stop, stop, close], interleaved: false },
  { name: 'close, carrier hang-up', steps: [close, carrierHangup], interleaved: false },
  { name: 'stop, carrier hang-up', steps: [stop, carrierHangup], interleaved: true },
  { name: 'engine hang-up, stop, close', steps: [engineHangup, stop, close], interleaved: false },
  { name: 'stop, engine hang-up, stop', steps: [stop, engineHangup, stop], interleaved: true },
  {
    name: 'engine hang-up, carrier hang-up',
    steps: [engineHangup, carrierHangup],
    interleaved: true,
  },
  { name: 'abort, stop, close', steps: [abort, stop, close], interleaved: false },
  { name: 'stop, abort, engine hang-up', steps: [stop, abort, engineHangup], interleaved: true },
  {
    name: 'carrier hang-up, abort, abort',
    steps: [carrierHangup, abort, abort],
    interleaved: false,
  },
];

for (const order of ORDERS) {
  const mode = order.interleaved ? 'a tick apart' : 'in one tick';
  test(`ending once: ${order.name} ${mode}`, async () => {
    const { callId, caller } = await attachAndConnect();
    caller.echoMarks = false;
    await caller.waitForMark('greeting');
    caller.sendJson({ event: 'mark', streamSid: caller.streamSid, mark: { name: 'greeting' } });
    await caller.sendAudio(new Int16Array(800), 0);
    if (order.steps.includes(engineHangup)) {
      caller.sendDtmf('1');
      await caller.waitForMark('goodbye');
    }

    for (const step of order.steps) {
      if (caller.isOpen || step === abort) await step(caller);
      if (order.interleaved) await nextTick();
    }

    await harness.bridge.waitForResult(callId);
    await waitUntil(isReady, 'worker idle after the call');
    // Give a second (duplicate) ending time to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(countLogs(callId, 'call ended'), 1);
    const posts =
      countLogs(callId, 'result delivered') +
      countLogs(callId, 'result already stored by voxbridge');
    assert.equal(posts, 1);
    assert.equal(countLogs(callId, 'reservation released'), 1);
    assert.equal(harness.bridge.recordings.filter((r) => r.callId === callId).length, 1);
    const slot = (await harness.registry.list()).find((view) => view.workerId === 'w1');
    assert.equal(slot?.state, 'idle');
  });
}

test('max duration ends the call on media time', async () => {
  const { url: engineUrl } = await harness.startWorker({
    workerId: 'engine',
    pool: 'engine',
    createSession: createEngineSession,
  });
  harness.bridge.botConfig = {
    ...TEST_BOT_CONFIG,
    maxCallDurationMs: 5_000,
    nodes: {
      ...TEST_BOT_CONFIG.nodes,
      menu: {
        type: 'ask',
        prompt: { text: 'Hello. Press 1 to confirm.', audio: 'hello.wav' },
        digits: { '1': 'confirmed' },
        noInput: 'silent',
        timeoutMs: 60_000,
        retries: 0,
      },
    },
  };
  try {
    const reservation = await harness.registry.reserve({
      pool: 'engine',
      callId: harness.nextCallId(),
      reservationTtlMs: 10_000,
    });
    assert.ok(reservation !== null);
    const attach = await postJson(`${engineUrl}/attach`, attachBody(reservation));
    const caller = await TwilioCaller.connect(String(attach.body['streamUrl']));
    caller.sendConnected();
    caller.sendStart();

    // 6 s of media sent as a burst: the limit is reached in media time, long before 5 s pass.
    const startedAt = Date.now();
    await caller.sendAudio(new Int16Array(48_000), 0);
    const result = await harness.bridge.waitForResult(reservation.callId);
    const wallMs = Date.now() - startedAt;

    assert.equal(result.outcome, 'max-duration');
    assert.equal(result.hangupBy, 'system');
    assert.ok(wallMs < 4_000, `ended after ${wallMs} ms of wall time`);
    assert.ok(result.durationMs >= 0);
    caller.terminate();
  } finally {
    harness.bridge.botConfig = TEST_BOT_CONFIG;
  }
});

test('wall-clock guard ends a call whose media stalled', { timeout: 30_000 }, async () => {
  harness.bridge.botConfig = { ...TEST_BOT_CONFIG, maxCallDurationMs: 5_000 };
  try {
    const { callId, caller } = await attachAndConnect();
    caller.echoMarks = false;
    await caller.waitForMark('greeting');
    const startedAt = Date.now();

    // The carrier keeps the socket alive with marks but sends no media, so media time stops.
    const keepAlive = setInterval(() => {
      if (caller.isOpen) {
        caller.sendJson({ event: 'mark', streamSid: caller.streamSid, mark: { name: 'ping' } });
      }
    }, 1_000);
    try {
      const result = await harness.bridge.waitForResult(
        callId,
        5_000 + WALL_CLOCK_SLACK_MS + 5_000,
      );
      const wallMs = Date.now() - startedAt;
      assert.equal(result.status, 'aborted');
      assert.equal(result.hangupBy, 'system');
      assert.match(result.error ?? '', /max-duration/);
      assert.ok(wallMs >= 5_000 + WALL_CLOCK_SLACK_MS - 1_000, `guard fired after ${wallMs} ms`);
      assert.ok(wallMs < 5_000 + WALL_CLOCK_SLACK_MS + 3_000, `guard fired after ${wallMs} ms`);
    } finally {
      clearInterval(keepAlive);
      caller.terminate();
    }
    await waitUntil(isReady, 'worker idle after the guard');
  } finally {
    harness.bridge.botConfig = TEST_BOT_CONFIG;
  }
});
