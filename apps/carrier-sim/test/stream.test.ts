import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FRAME_SAMPLES, decodeMulaw, levelDb } from '@voxfleet/audio';
import {
  CallbackReceiver,
  TestWorker,
  callRequest,
  getCall,
  placeCall,
  startCarrier,
  toneMulaw,
  waitFor,
  type ReceivedMessage,
  assertBetween,
} from './helpers.js';
import type { SimCarrier } from '../src/index.js';

describe('sim carrier media stream', () => {
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

  async function silentCall(overrides: Parameters<typeof callRequest>[2] = {}) {
    const index = worker.connections.length;
    const request = callRequest(worker, receiver, { scenario: 'silent', ...overrides });
    const carrierCallId = await placeCall(carrierUrl, request);
    const conn = await worker.nextConnection(index);
    await conn.waitForEvent('start');
    return { carrierCallId, conn, request };
  }

  test('stream opens with connected and start', async () => {
    const { carrierCallId, conn, request } = await silentCall({
      customParameters: { campaignId: 'camp-1' },
    });
    await waitFor('3 media frames', () => (conn.mediaFrames >= 3 ? true : undefined));

    assert.equal(conn.path, '/ws/bot-1?callId=c1&token=secret-token');
    const [connected, start] = conn.messages;
    assert.deepEqual(
      { event: connected?.event, protocol: connected?.protocol, version: connected?.version },
      { event: 'connected', protocol: 'Call', version: '1.0.0' },
    );
    assert.equal(start?.event, 'start');
    assert.equal(start?.sequenceNumber, '1');
    assert.match(String(start?.streamSid), /^MZ[0-9a-f]{32}$/);
    assert.deepEqual(start?.start, {
      streamSid: start?.streamSid,
      accountSid: `AC${'0'.repeat(32)}`,
      callSid: carrierCallId,
      tracks: ['inbound'],
      customParameters: { campaignId: 'camp-1', callId: request.callId },
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    });
    conn.close();
    await receiver.waitForFinal(carrierCallId);
  });

  test('media frames number chunks and timestamps as strings', async () => {
    const { carrierCallId, conn } = await silentCall();
    await waitFor('10 media frames', () => (conn.mediaFrames >= 10 ? true : undefined));
    conn.close();
    await receiver.waitForFinal(carrierCallId);

    const media = conn.byEvent('media').slice(0, 10);
    media.forEach((message, i) => {
      const body = message.media as Record<string, unknown>;
      assert.equal(message.sequenceNumber, String(i + 2), 'sequenceNumber follows start');
      assert.equal(message.streamSid, conn.streamSid);
      assert.equal(body.track, 'inbound');
      assert.equal(body.chunk, String(i + 1));
      assert.equal(body.timestamp, String(i * 20));
      assert.equal(Buffer.from(String(body.payload), 'base64').length, FRAME_SAMPLES);
    });
  });

  test('silence carries line noise near -60 dBFS', async () => {
    const { carrierCallId, conn } = await silentCall();
    await waitFor('50 media frames', () => (conn.mediaFrames >= 50 ? true : undefined));
    conn.close();
    await receiver.waitForFinal(carrierCallId);

    const levels = conn.byEvent('media').map((m) => {
      const payload = (m.media as { payload: string }).payload;
      return levelDb(decodeMulaw(Buffer.from(payload, 'base64')));
    });
    const mean = levels.reduce((sum, level) => sum + level, 0) / levels.length;
    assertBetween(mean, -64, -56, 'mean noise level in dBFS');
    assert.ok(Math.min(...levels) > -90, 'a frame was digital silence');
  });

  test('frames arrive every 20 ms divided by speed', async () => {
    const { carrierCallId, conn } = await silentCall();
    await waitFor('first frames', () => (conn.mediaFrames >= 5 ? true : undefined));
    const windowStart = performance.now();
    const framesAtStart = conn.mediaFrames;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const elapsedMs = performance.now() - windowStart;
    const frames = conn.mediaFrames - framesAtStart;
    conn.close();
    await receiver.waitForFinal(carrierCallId);

    // Speed 10 sends one frame every 2 ms. A carrier that fell behind before the window may
    // send its backlog inside it, at most the clock's 1 s lag limit (500 frames). A carrier
    // that ignored pacing would send thousands. The lower bound allows for a busy machine.
    const expected = elapsedMs / 2;
    assert.ok(
      frames <= (elapsedMs + 1000) / 2 + 10,
      `${frames} frames in ${elapsedMs.toFixed(0)} ms is too many`,
    );
    assert.ok(
      frames >= expected * 0.7,
      `${frames} frames in ${elapsedMs.toFixed(0)} ms is too few`,
    );
  });

  test('mark is echoed after its audio has played', async () => {
    const { carrierCallId, conn } = await silentCall();
    const framesAtSend = conn.mediaFrames;
    // One frame, a mark, then 1 s of audio in 100 ms chunks and a second mark: both echoes
    // come on the carrier's media clock, so their distance is exact.
    conn.sendAudio(toneMulaw(20));
    conn.sendMark('first-frame');
    conn.sendAudio(toneMulaw(1000), 800);
    conn.sendMark('prompt-1');

    const first = await conn.waitForMark('first-frame');
    const echo = await conn.waitForMark('prompt-1');
    const played = echo.mediaCount - first.mediaCount;
    assertBetween(played, 49, 51, 'frames played before the mark echo');
    assert.ok(echo.mediaCount - framesAtSend >= 50, 'mark echoed before its audio played');
    assert.equal(echo.streamSid, conn.streamSid);
    assert.equal(typeof echo.sequenceNumber, 'string');

    conn.close();
    await receiver.waitForFinal(carrierCallId);
    const snapshot = await getCall(carrierUrl, carrierCallId);
    assert.equal(snapshot.media.marksReceived, 2);
    assert.equal(snapshot.media.marksEchoed, 2);
    assert.equal(snapshot.media.framesReceived, 11);
    assert.equal(snapshot.media.bytesReceived, 8160);
  });

  test('mark with nothing queued is echoed at once', async () => {
    const { carrierCallId, conn } = await silentCall();
    const framesAtSend = conn.mediaFrames;
    conn.sendMark('empty');
    const echo = await conn.waitForMark('empty');
    // Bounds are loose because at speed 10 a busy machine delays delivery by many frames.
    assert.ok(echo.mediaCount - framesAtSend <= 25, 'echo waited for frames');
    conn.close();
    await receiver.waitForFinal(carrierCallId);
  });

  test('marks echo in queue order between chunks', async () => {
    const { carrierCallId, conn } = await silentCall();
    conn.sendAudio(toneMulaw(200));
    conn.sendMark('a');
    conn.sendAudio(toneMulaw(200));
    conn.sendMark('b');

    const b = await conn.waitForMark('b');
    const a = await conn.waitForMark('a');
    assert.ok(a.receivedAt <= b.receivedAt, 'mark b came before mark a');
    const gap = b.mediaCount - a.mediaCount;
    assertBetween(gap, 9, 11, 'frames between the two mark echoes');
    conn.close();
    await receiver.waitForFinal(carrierCallId);
  });

  test('clear drops queued audio and echoes pending marks', async () => {
    const { carrierCallId, conn } = await silentCall({ scenario: 'press-1' });
    conn.sendAudio(toneMulaw(5000));
    conn.sendMark('long-prompt');
    const framesAtSend = conn.mediaFrames;
    await waitFor('20 frames of playback', () =>
      conn.mediaFrames >= framesAtSend + 20 ? true : undefined,
    );

    const framesAtClear = conn.mediaFrames;
    conn.sendClear();
    const echo = await conn.waitForMark('long-prompt');
    // Without the clear the mark would wait for 230 more frames of audio.
    assert.ok(echo.mediaCount - framesAtClear <= 60, 'clear did not echo the mark at once');

    // With the queue empty the press-1 callee acts ~400 ms (20 frames) later, not after 5 s.
    const dtmf: ReceivedMessage = await conn.waitForEvent('dtmf');
    const gap = dtmf.mediaCount - echo.mediaCount;
    assertBetween(gap, 18, 26, 'frames from clear to DTMF');

    conn.close();
    await receiver.waitForFinal(carrierCallId);
    const snapshot = await getCall(carrierUrl, carrierCallId);
    assert.equal(snapshot.media.clears, 1);
    assert.equal(snapshot.media.marksEchoed, 1);
  });

  test('invalid worker messages are counted and ignored', async () => {
    const { carrierCallId, conn } = await silentCall();
    conn.send({ event: 'media', streamSid: 'MZwrong', media: { payload: 'AAAA' } });
    conn.send({ event: 'media', streamSid: conn.streamSid, media: { payload: 'not base64!' } });
    conn.send({ event: 'dance', streamSid: conn.streamSid });
    conn.sendMark('after-invalid');
    await conn.waitForMark('after-invalid');

    conn.close();
    await receiver.waitForFinal(carrierCallId);
    const snapshot = await getCall(carrierUrl, carrierCallId);
    assert.equal(snapshot.media.invalidMessages, 3);
    assert.equal(snapshot.media.framesReceived, 0);
    assert.equal(snapshot.state, 'completed');
  });

  test('max call duration ends the call with stop', async () => {
    const short = await startCarrier({ speed: 20, maxCallMs: 2000 });
    try {
      const index = worker.connections.length;
      const request = callRequest(worker, receiver, { scenario: 'silent' });
      const carrierCallId = await placeCall(short.url, request);
      const conn = await worker.nextConnection(index);

      const stop = await conn.waitForEvent('stop');
      assert.equal(stop.mediaCount, 100, '2000 ms of media is 100 frames');
      const final = await receiver.waitForFinal(carrierCallId);
      assert.equal(final.status, 'completed');
      assert.equal(final.durationMs, 2000);
      const snapshot = await getCall(short.url, carrierCallId);
      assert.equal(snapshot.endReason, 'max-duration');
    } finally {
      await short.carrier.stop();
    }
  });
});
