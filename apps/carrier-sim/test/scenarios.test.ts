import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { decodeMulaw, levelDb } from '@voxfleet/audio';
import {
  CallbackReceiver,
  TEST_SECRET,
  TestWorker,
  callRequest,
  getCall,
  placeCall,
  playGreeting,
  startCarrier,
  toneMulaw,
  waitFor,
  type ReceivedMessage,
  type WorkerConnection,
  assertBetween,
} from './helpers.js';
import type { SimScenario } from '@voxfleet/schema';
import type { SimCarrier } from '../src/index.js';

/** Callee audio above this level (dBFS) is speech; line noise sits near -60. */
const SPEECH_DB = -40;

function frameLevel(message: ReceivedMessage): number {
  const media = message.media as { payload: string };
  return levelDb(decodeMulaw(Buffer.from(media.payload, 'base64')));
}

function loudFrames(conn: WorkerConnection): ReceivedMessage[] {
  return conn.byEvent('media').filter((m) => frameLevel(m) > SPEECH_DB);
}

describe('sim carrier scenarios', () => {
  let carrier: SimCarrier;
  let carrierUrl: string;
  let receiver: CallbackReceiver;
  let worker: TestWorker;

  before(async () => {
    receiver = await new CallbackReceiver().start();
    worker = await new TestWorker().start();
    ({ carrier, url: carrierUrl } = await startCarrier({ speed: 10 }));
  });

  after(async () => {
    await carrier.stop();
    await worker.close();
    await receiver.close();
  });

  /** Places a call with the scenario and returns its worker-side connection. */
  async function answeredCall(scenario: SimScenario | undefined) {
    const index = worker.connections.length;
    const request = callRequest(worker, receiver, scenario === undefined ? {} : { scenario });
    const carrierCallId = await placeCall(carrierUrl, request);
    const conn = await worker.nextConnection(index);
    await conn.waitForEvent('start');
    return { carrierCallId, conn, request };
  }

  test('speak says a phrase after the greeting', async () => {
    const { carrierCallId, conn } = await answeredCall('speak');
    playGreeting(conn, 1000);
    const echo = await conn.waitForMark('greeting');

    const speech = await waitFor('callee speech', () => loudFrames(conn)[0]);
    assert.ok(speech.mediaCount > echo.mediaCount, 'callee spoke during the greeting');
    const gap = speech.mediaCount - echo.mediaCount;
    assertBetween(gap, 18, 26, 'frames from greeting end to speech');

    await waitFor('end of phrase', () =>
      conn.mediaFrames > speech.mediaCount + 60 ? true : undefined,
    );
    const spoken = loudFrames(conn).length;
    assertBetween(spoken, 15, 60, 'loud frames in the phrase');

    conn.close();
    const final = await receiver.waitForFinal(carrierCallId);
    assert.equal(final.status, 'completed');
    assert.ok((final.durationMs ?? 0) > 1000, `durationMs ${final.durationMs}`);
    assert.deepEqual(receiver.statuses(carrierCallId), ['ringing', 'answered', 'completed']);

    const snapshot = await getCall(carrierUrl, carrierCallId);
    assert.equal(snapshot.endReason, 'bot-hangup');
    assert.deepEqual(snapshot.media.phrasesSpoken, ['hello']);
    assert.deepEqual(snapshot.media.digitsSent, []);
  });

  for (const digit of ['1', '2'] as const) {
    test(`press-${digit} sends DTMF ${digit} after the greeting`, async () => {
      const { carrierCallId, conn } = await answeredCall(`press-${digit}`);
      playGreeting(conn, 600);
      const echo = await conn.waitForMark('greeting');

      const dtmf = await conn.waitForEvent('dtmf');
      assert.deepEqual(dtmf.dtmf, { track: 'inbound_track', digit });
      assert.equal(dtmf.streamSid, conn.streamSid);
      assert.equal(typeof dtmf.sequenceNumber, 'string');
      const gap = dtmf.mediaCount - echo.mediaCount;
      assertBetween(gap, 18, 26, 'frames from greeting end to DTMF');

      conn.close();
      await receiver.waitForFinal(carrierCallId);
      assert.equal(conn.byEvent('dtmf').length, 1);
      assert.deepEqual(loudFrames(conn), []);
      const snapshot = await getCall(carrierUrl, carrierCallId);
      assert.deepEqual(snapshot.media.digitsSent, [digit]);
      assert.equal(snapshot.state, 'completed');
    });
  }

  test('silent never answers the bot', async () => {
    const { carrierCallId, conn } = await answeredCall('silent');
    playGreeting(conn, 600);
    const echo = await conn.waitForMark('greeting');
    await waitFor('100 quiet frames', () =>
      conn.mediaFrames > echo.mediaCount + 100 ? true : undefined,
    );

    assert.deepEqual(conn.byEvent('dtmf'), []);
    assert.deepEqual(loudFrames(conn), []);
    assert.deepEqual(conn.byEvent('stop'), []);

    // The bot's no-input handling ends the call.
    conn.close();
    const final = await receiver.waitForFinal(carrierCallId);
    assert.equal(final.status, 'completed');
    const snapshot = await getCall(carrierUrl, carrierCallId);
    assert.equal(snapshot.endReason, 'bot-hangup');
  });

  test('hangup-early stops 1.5 s into the greeting', async () => {
    const { carrierCallId, conn } = await answeredCall('hangup-early');
    // A mark after the first frame shows, on the carrier's media clock, when the greeting
    // started playing.
    conn.sendAudio(toneMulaw(20));
    conn.sendMark('greeting-started');
    conn.sendAudio(toneMulaw(4000), 32_000);
    conn.sendMark('greeting');

    const started = await conn.waitForMark('greeting-started');
    const stop = await conn.waitForEvent('stop');
    const framesHeard = stop.mediaCount - started.mediaCount;
    assertBetween(framesHeard, 73, 77, 'greeting frames heard before stop');
    assert.deepEqual(stop.stop, { accountSid: `AC${'0'.repeat(32)}`, callSid: carrierCallId });
    assert.equal(stop.streamSid, conn.streamSid);
    assert.equal(conn.byEvent('mark').length, 1, 'the greeting mark must not be echoed');

    const { code } = await conn.closed;
    assert.equal(code, 1000);
    const final = await receiver.waitForFinal(carrierCallId);
    assert.equal(final.status, 'completed');
    const snapshot = await getCall(carrierUrl, carrierCallId);
    assert.equal(snapshot.endReason, 'callee-hangup');
  });

  test('missing scenario defaults to speak', async () => {
    const { carrierCallId, conn } = await answeredCall(undefined);
    playGreeting(conn, 400);
    await waitFor('callee speech', () => loudFrames(conn)[0]);
    conn.close();
    await receiver.waitForFinal(carrierCallId);
    const snapshot = await getCall(carrierUrl, carrierCallId);
    assert.equal(snapshot.scenario, 'speak');
    assert.deepEqual(snapshot.media.phrasesSpoken, ['hello']);
  });

  test('status callbacks carry the secret header', async () => {
    const { carrierCallId, conn } = await answeredCall('silent');
    conn.close();
    await receiver.waitForFinal(carrierCallId);
    const headers = receiver.received
      .filter((r) => r.event.carrierCallId === carrierCallId)
      .map((r) => r.headers['x-carrier-secret']);
    assert.deepEqual(headers, [TEST_SECRET, TEST_SECRET, TEST_SECRET]);
  });

  test('busy reports busy without answering', async () => {
    const connectionsBefore = worker.connections.length;
    const started = performance.now();
    const carrierCallId = await placeCall(
      carrierUrl,
      callRequest(worker, receiver, { scenario: 'busy' }),
    );
    const final = await receiver.waitForFinal(carrierCallId);
    const elapsedMs = performance.now() - started;

    assert.equal(final.status, 'busy');
    assert.deepEqual(receiver.statuses(carrierCallId), ['ringing', 'busy']);
    assert.ok(elapsedMs < 1000, `busy took ${elapsedMs} ms`);
    assert.equal(worker.connections.length, connectionsBefore);
  });

  test('no-answer waits the scaled ring timeout', async () => {
    const connectionsBefore = worker.connections.length;
    const started = performance.now();
    const request = callRequest(worker, receiver, { scenario: 'no-answer', ringTimeoutMs: 3000 });
    const carrierCallId = await placeCall(carrierUrl, request);
    const final = await receiver.waitForFinal(carrierCallId);
    const elapsedMs = performance.now() - started;

    assert.equal(final.status, 'no-answer');
    assert.deepEqual(receiver.statuses(carrierCallId), ['ringing', 'no-answer']);
    // 3000 ms of ringing at speed 10.
    assert.ok(elapsedMs >= 290, `no-answer came after ${elapsedMs} ms, expected >= 300`);
    assert.ok(elapsedMs < 2000, `no-answer came after ${elapsedMs} ms`);
    assert.equal(worker.connections.length, connectionsBefore);
  });

  test('failed reports failed with a reason', async () => {
    const carrierCallId = await placeCall(
      carrierUrl,
      callRequest(worker, receiver, { scenario: 'failed' }),
    );
    const final = await receiver.waitForFinal(carrierCallId);
    assert.equal(final.status, 'failed');
    assert.match(final.reason ?? '', /failed/);
    assert.deepEqual(receiver.statuses(carrierCallId), ['ringing', 'failed']);
    const snapshot = await getCall(carrierUrl, carrierCallId);
    assert.equal(snapshot.endReason, 'carrier-failed');
    assert.equal(snapshot.answeredAt, null);
  });
});
