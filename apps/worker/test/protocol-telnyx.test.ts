import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { decodeMulaw, encodeAlaw, encodeMulaw } from '@voxfleet/audio';
import { StreamDecoder } from '../src/protocol/stream-decoder.js';
import { parseClientState } from '../src/protocol/telnyx.js';
import {
  defineConformanceTests,
  tone,
  type Dialect,
  type OutboundMessage,
} from './protocol-conformance.js';

const telnyx: Dialect = {
  provider: 'telnyx',
  samplesPerMedia: 160,
  newStreamId: () => randomUUID(),
  connected: () => ({ event: 'connected', version: '1.0.0' }),
  start: ({ streamId, carrierCallId, params }) => ({
    event: 'start',
    sequence_number: '1',
    stream_id: streamId,
    start: {
      user_id: 'user-1',
      call_control_id: carrierCallId,
      call_session_id: 'session-1',
      client_state: Buffer.from(JSON.stringify(params)).toString('base64'),
      from: '+13125550100',
      to: '+13125550101',
      media_format: { encoding: 'PCMU', sample_rate: 8000, channels: 1 },
    },
  }),
  media: (streamId, index, pcm) => ({
    event: 'media',
    sequence_number: String(index + 1),
    stream_id: streamId,
    media: {
      track: 'inbound',
      chunk: String(index),
      timestamp: String(index * 20),
      payload: Buffer.from(encodeMulaw(pcm)).toString('base64'),
    },
  }),
  dtmf: (streamId, digit) => ({
    event: 'dtmf',
    sequence_number: '2',
    stream_id: streamId,
    dtmf: { digit },
  }),
  markAck: (streamId, name) => ({
    event: 'mark',
    sequence_number: '3',
    stream_id: streamId,
    mark: { name },
  }),
  stop: (streamId) => ({
    event: 'stop',
    sequence_number: '4',
    stream_id: streamId,
    stop: { user_id: 'user-1', call_control_id: 'carrier-call-1' },
  }),
  readOutbound(message): OutboundMessage {
    if (message['event'] === 'media') {
      const bytes = Buffer.from((message['media'] as { payload: string }).payload, 'base64');
      assert.ok(bytes.length >= 160, 'Telnyx media must carry at least 20 ms');
      return { kind: 'media', samples8k: decodeMulaw(bytes).length, bytes: bytes.length };
    }
    if (message['event'] === 'mark') {
      return { kind: 'mark', name: (message['mark'] as { name: string }).name };
    }
    assert.equal(message['event'], 'clear');
    return { kind: 'clear' };
  },
};

defineConformanceTests(telnyx);

function startFrame(encoding: string, clientState?: string): string {
  return JSON.stringify({
    event: 'start',
    sequence_number: '1',
    stream_id: 'stream-1',
    start: {
      call_control_id: 'v3:control',
      ...(clientState === undefined ? {} : { client_state: clientState }),
      media_format: { encoding, sample_rate: 8000, channels: 1 },
    },
  });
}

function mediaFrame(chunk: number, level: number): string {
  const pcm = new Int16Array(160).fill(level);
  return JSON.stringify({
    event: 'media',
    stream_id: 'stream-1',
    media: {
      track: 'inbound',
      chunk: String(chunk),
      payload: Buffer.from(encodeMulaw(pcm)).toString('base64'),
    },
  });
}

test('telnyx: out-of-order and duplicate media come out in chunk order', () => {
  const decoder = new StreamDecoder(null);
  assert.ok(decoder.decode(startFrame('PCMU')).ok);
  const delivered: number[] = [];
  const rejected: string[] = [];
  // Chunk n carries the level 1000 * n, so the output order shows which chunk played.
  for (const chunk of [2, 1, 3, 2, 5, 4, 1, 6]) {
    const result = decoder.decode(mediaFrame(chunk, 1000 * chunk));
    if (!result.ok) {
      rejected.push(result.reason);
      continue;
    }
    for (const event of result.events) {
      if (event.type === 'media') delivered.push(Math.round((event.pcm[0] ?? 0) / 1000));
    }
  }
  assert.deepEqual(delivered, [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(rejected, ['stale-media', 'stale-media']);
});

test('telnyx: a lost chunk is skipped once the reorder window is full', () => {
  const decoder = new StreamDecoder('telnyx');
  assert.ok(decoder.decode(startFrame('PCMU')).ok);
  const delivered: number[] = [];
  for (const chunk of [1, 3, 4, 5, 6, 7, 8]) {
    const result = decoder.decode(mediaFrame(chunk, 1000 * chunk));
    if (result.ok) {
      for (const event of result.events) {
        if (event.type === 'media') delivered.push(Math.round((event.pcm[0] ?? 0) / 1000));
      }
    }
  }
  assert.deepEqual(delivered, [1, 3, 4, 5, 6, 7, 8]);
});

test('telnyx: PCMA decodes and G722 is rejected', () => {
  const decoder = new StreamDecoder(null);
  assert.ok(decoder.decode(startFrame('PCMA')).ok);
  const result = decoder.decode(
    JSON.stringify({
      event: 'media',
      stream_id: 'stream-1',
      media: { payload: Buffer.from(encodeAlaw(tone(160))).toString('base64') },
    }),
  );
  assert.ok(result.ok);
  const pcm = result.events[0]?.type === 'media' ? result.events[0].pcm : new Int16Array(0);
  assert.equal(pcm.length, 160);
  assert.ok(Math.abs((pcm[20] ?? 0) - (tone(160)[20] ?? 0)) < 300);

  const g722 = new StreamDecoder(null).decode(startFrame('G722'));
  assert.equal(g722.ok ? null : g722.reason, 'unsupported-format');
});

test('telnyx: client_state carries JSON parameters or a bare token', () => {
  const json = Buffer.from(JSON.stringify({ token: 'abc', callId: 'c1' })).toString('base64');
  assert.deepEqual(parseClientState(json), { token: 'abc', callId: 'c1' });
  assert.deepEqual(parseClientState(Buffer.from('bare-token').toString('base64')), {
    token: 'bare-token',
  });
  assert.deepEqual(parseClientState(undefined), {});
});

test('telnyx: error frames and outbound track media are not audio', () => {
  const decoder = new StreamDecoder(null);
  assert.ok(decoder.decode(startFrame('PCMU')).ok);
  const error = decoder.decode(
    JSON.stringify({ event: 'error', payload: { code: 100002, title: 'x' } }),
  );
  assert.ok(error.ok);
  assert.equal(error.events[0]?.type, 'notice');
  const outbound = decoder.decode(
    JSON.stringify({
      event: 'media',
      stream_id: 'stream-1',
      media: { track: 'outbound', chunk: '1', payload: '//8=' },
    }),
  );
  assert.ok(outbound.ok);
  assert.equal(outbound.events[0]?.type, 'notice');
});
