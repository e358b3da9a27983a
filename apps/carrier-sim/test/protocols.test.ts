import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeMulaw, pcmToBytes } from '@voxfleet/audio';
import { createStreamProtocol, type StreamProvider } from '../src/protocols/index.js';

const FRAME = Buffer.from(encodeMulaw(new Int16Array(160).fill(1000))).toString('base64');

function protocolFor(provider: StreamProvider, randomValues: number[] = [0.9]) {
  let index = 0;
  const protocol = createStreamProtocol(provider, {
    carrierCallId: 'CA1',
    accountSid: 'AC1',
    customParameters: { token: 'tok', callId: 'call-1' },
    random: () => randomValues[index++ % randomValues.length] ?? 0.9,
  });
  let sequence = 0;
  return { protocol, next: () => ++sequence };
}

function sendFrames(provider: StreamProvider, count: number, randomValues?: number[]) {
  const { protocol, next } = protocolFor(provider, randomValues);
  const messages: Array<Record<string, unknown>> = [];
  for (let index = 1; index <= count; index++) {
    for (const text of protocol.media(
      { index, mediaMs: (index - 1) * 20, mulawBase64: FRAME },
      next,
    )) {
      messages.push(JSON.parse(text) as Record<string, unknown>);
    }
  }
  for (const text of protocol.flushMedia(next))
    messages.push(JSON.parse(text) as Record<string, unknown>);
  return { protocol, messages };
}

test('exotel protocol batches 100 ms of 16-bit PCM', () => {
  const { messages } = sendFrames('exotel', 12);
  assert.equal(messages.length, 3);
  const first = messages[0]?.['media'] as { payload: string; chunk: string };
  assert.equal(Buffer.from(first.payload, 'base64').length, 1_600);
  assert.equal(first.chunk, '1');
  const last = messages[2]?.['media'] as { payload: string };
  assert.equal(Buffer.from(last.payload, 'base64').length, 640);
});

test('exotel protocol rejects chunks off the 320-byte grid', () => {
  const { protocol } = protocolFor('exotel');
  const media = (bytes: number) => ({
    event: 'media',
    stream_sid: protocol.streamId,
    media: { payload: pcmToBytes(new Int16Array(bytes / 2)).toString('base64') },
  });
  assert.equal(protocol.parse(media(3_200)).ok, true);
  assert.equal(protocol.parse(media(3_000)).ok, false);
  assert.equal(protocol.parse(media(1_600)).ok, false);
});

test('plivo protocol sends extra headers and answers a clear', () => {
  const { protocol, next } = protocolFor('plivo', [0.9]);
  assert.equal(protocol.connected(), null);
  const start = JSON.parse(protocol.start(next)) as {
    extra_headers: string;
    start: { mediaFormat: { encoding: string; sampleRate: number } };
  };
  assert.equal(start.extra_headers, 'token=tok,callId=call-1');
  assert.deepEqual(start.start.mediaFormat, { encoding: 'audio/x-mulaw', sampleRate: 8000 });

  const checkpoint = protocol.parse({
    event: 'checkpoint',
    streamId: protocol.streamId,
    name: 'm',
  });
  assert.deepEqual(checkpoint, { ok: true, command: { kind: 'mark', name: 'm' } });
  const played = JSON.parse(protocol.markPlayed(next, 'm')) as { event: string; name: string };
  assert.equal(played.event, 'playedStream');
  assert.equal(played.name, 'm');
  const cleared = JSON.parse(protocol.clearAcknowledgement(next) ?? '{}') as { event: string };
  assert.equal(cleared.event, 'clearedAudio');

  const wrongFormat = protocol.parse({
    event: 'playAudio',
    media: { contentType: 'audio/x-l16', sampleRate: 8000, payload: '' },
  });
  assert.equal(wrongFormat.ok, false);
});

test('telnyx protocol reorders but never loses frames', () => {
  // A random value under the shuffle probability keeps the frame back for one tick.
  const { messages } = sendFrames('telnyx', 10, [0.01, 0.9, 0.9, 0.01, 0.9]);
  const chunks = messages.map((message) => Number((message['media'] as { chunk: string }).chunk));
  assert.deepEqual(
    [...chunks].sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  assert.notDeepEqual(chunks, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test('telnyx protocol sends client_state as base64 JSON', () => {
  const { protocol, next } = protocolFor('telnyx');
  const start = JSON.parse(protocol.start(next)) as { start: { client_state: string } };
  const state = JSON.parse(
    Buffer.from(start.start.client_state, 'base64').toString('utf8'),
  ) as unknown;
  assert.deepEqual(state, { token: 'tok', callId: 'call-1' });
});
