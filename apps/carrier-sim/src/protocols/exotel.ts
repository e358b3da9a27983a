/**
 * Exotel Voicebot framing (developer.exotel.com/docs/agentstream/websocket-protocol): 16-bit
 * little-endian PCM at 8 kHz in `media` messages of about 100 ms, snake_case fields. The
 * worker's audio must come in chunks of a multiple of 320 bytes from 3.2 KB to 100 KB.
 */
import { randomBytes } from 'node:crypto';
import { decodeMulaw, encodeMulaw, pcmFromBytes, pcmToBytes } from '@voxfleet/audio';
import { z } from 'zod';
import type { CarrierStreamProtocol, ParsedWorkerMessage, StreamProtocolContext } from './types.js';

/** Caller frames per `media` message: 5 x 20 ms = 100 ms. */
const FRAMES_PER_MESSAGE = 5;
const MIN_CHUNK_BYTES = 3_200;
const MAX_CHUNK_BYTES = 100_000;
const CHUNK_MULTIPLE_BYTES = 320;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const WorkerMessage = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('media'),
    stream_sid: z.string(),
    media: z.object({ payload: z.string().regex(BASE64, 'must be base64') }),
  }),
  z.object({
    event: z.literal('mark'),
    stream_sid: z.string(),
    mark: z.object({ name: z.string().min(1) }),
  }),
  z.object({ event: z.literal('clear'), stream_sid: z.string() }),
]);

export function createExotelProtocol(context: StreamProtocolContext): CarrierStreamProtocol {
  const streamSid = `MZ${randomBytes(16).toString('hex')}`;
  let batch: Uint8Array[] = [];
  let batchStartMs = 0;
  let chunk = 0;

  const mediaMessage = (sequence: number): string => {
    const pcm = decodeMulaw(Buffer.concat(batch));
    batch = [];
    chunk++;
    return JSON.stringify({
      event: 'media',
      sequence_number: String(sequence),
      stream_sid: streamSid,
      media: {
        chunk: String(chunk),
        timestamp: String(batchStartMs),
        payload: pcmToBytes(pcm).toString('base64'),
      },
    });
  };

  return {
    provider: 'exotel',
    streamId: streamSid,
    connected: () => JSON.stringify({ event: 'connected' }),
    start: (next) =>
      JSON.stringify({
        event: 'start',
        sequence_number: String(next()),
        stream_sid: streamSid,
        start: {
          stream_sid: streamSid,
          call_sid: context.carrierCallId,
          account_sid: context.accountSid,
          custom_parameters: context.customParameters,
          media_format: { encoding: 'audio/x-raw', sample_rate: '8000', bit_rate: '16' },
        },
      }),
    media(frame, next) {
      if (batch.length === 0) batchStartMs = frame.mediaMs;
      batch.push(Buffer.from(frame.mulawBase64, 'base64'));
      return batch.length < FRAMES_PER_MESSAGE ? [] : [mediaMessage(next())];
    },
    flushMedia: (next) => (batch.length === 0 ? [] : [mediaMessage(next())]),
    dtmf: (next, digit) =>
      JSON.stringify({
        event: 'dtmf',
        sequence_number: String(next()),
        stream_sid: streamSid,
        dtmf: { digit, duration: '100' },
      }),
    markPlayed: (next, name) =>
      JSON.stringify({
        event: 'mark',
        sequence_number: String(next()),
        stream_sid: streamSid,
        mark: { name },
      }),
    clearAcknowledgement: () => null,
    stop: (next) =>
      JSON.stringify({
        event: 'stop',
        sequence_number: String(next()),
        stream_sid: streamSid,
        stop: {
          call_sid: context.carrierCallId,
          account_sid: context.accountSid,
          reason: 'callended',
        },
      }),
    parse(message): ParsedWorkerMessage {
      const parsed = WorkerMessage.safeParse(message);
      if (!parsed.success)
        return { ok: false, problem: parsed.error.issues[0]?.message ?? 'invalid' };
      const value = parsed.data;
      if (value.stream_sid !== streamSid) {
        return { ok: false, problem: 'stream_sid does not match the stream' };
      }
      if (value.event === 'mark')
        return { ok: true, command: { kind: 'mark', name: value.mark.name } };
      if (value.event === 'clear') return { ok: true, command: { kind: 'clear' } };

      const bytes = Buffer.from(value.media.payload, 'base64');
      if (
        bytes.length % CHUNK_MULTIPLE_BYTES !== 0 ||
        bytes.length < MIN_CHUNK_BYTES ||
        bytes.length > MAX_CHUNK_BYTES
      ) {
        return {
          ok: false,
          problem: `media chunk of ${bytes.length} bytes: Exotel takes multiples of 320 bytes from 3200 to 100000`,
        };
      }
      return { ok: true, command: { kind: 'audio', mulaw: encodeMulaw(pcmFromBytes(bytes)) } };
    },
  };
}
