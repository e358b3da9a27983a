/**
 * Telnyx media streaming framing
 * (developers.telnyx.com/api-reference/websockets/stream-call-media-over-websocket): PCMU
 * RTP payloads of 20 ms, snake_case fields and `client_state` as base64 JSON. Telnyx does
 * not guarantee media order, so now and then a frame is held back and sent after the next.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { CarrierStreamProtocol, ParsedWorkerMessage, StreamProtocolContext } from './types.js';

/** Share of caller frames that swap places with the frame after them. */
const SHUFFLE_PROBABILITY = 0.05;
/** Telnyx plays RTP chunks of 20 ms to 30 s: 160 to 240 000 PCMU bytes. */
const MIN_MEDIA_BYTES = 160;
const MAX_MEDIA_BYTES = 240_000;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const OptionalStreamId = z.string().optional();

const WorkerMessage = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('media'),
    stream_id: OptionalStreamId,
    media: z.object({ payload: z.string().regex(BASE64, 'must be base64') }),
  }),
  z.object({
    event: z.literal('mark'),
    stream_id: OptionalStreamId,
    mark: z.object({ name: z.string().min(1) }),
  }),
  z.object({ event: z.literal('clear'), stream_id: OptionalStreamId }),
]);

export function createTelnyxProtocol(context: StreamProtocolContext): CarrierStreamProtocol {
  const streamId = randomUUID();
  const clientState = Buffer.from(JSON.stringify(context.customParameters), 'utf8').toString(
    'base64',
  );
  /** A frame held back to be sent after the next one. */
  let held: { index: number; mediaMs: number; payload: string } | null = null;

  const mediaMessage = (
    sequence: number,
    frame: { index: number; mediaMs: number; payload: string },
  ): string =>
    JSON.stringify({
      event: 'media',
      sequence_number: String(sequence),
      stream_id: streamId,
      media: {
        track: 'inbound',
        chunk: String(frame.index),
        timestamp: String(frame.mediaMs),
        payload: frame.payload,
      },
    });

  return {
    provider: 'telnyx',
    streamId,
    connected: () => JSON.stringify({ event: 'connected', version: '1.0.0' }),
    start: (next) =>
      JSON.stringify({
        event: 'start',
        sequence_number: String(next()),
        stream_id: streamId,
        start: {
          user_id: context.accountSid,
          call_control_id: context.carrierCallId,
          call_session_id: randomUUID(),
          client_state: clientState,
          media_format: { encoding: 'PCMU', sample_rate: 8000, channels: 1 },
        },
      }),
    media(frame, next) {
      const current = { index: frame.index, mediaMs: frame.mediaMs, payload: frame.mulawBase64 };
      if (held === null && context.random() < SHUFFLE_PROBABILITY) {
        held = current;
        return [];
      }
      const messages = [mediaMessage(next(), current)];
      if (held !== null) messages.push(mediaMessage(next(), held));
      held = null;
      return messages;
    },
    flushMedia(next) {
      if (held === null) return [];
      const message = mediaMessage(next(), held);
      held = null;
      return [message];
    },
    dtmf: (next, digit) =>
      JSON.stringify({
        event: 'dtmf',
        sequence_number: String(next()),
        stream_id: streamId,
        dtmf: { digit },
      }),
    markPlayed: (next, name) =>
      JSON.stringify({
        event: 'mark',
        sequence_number: String(next()),
        stream_id: streamId,
        mark: { name },
      }),
    clearAcknowledgement: () => null,
    stop: (next) =>
      JSON.stringify({
        event: 'stop',
        sequence_number: String(next()),
        stream_id: streamId,
        stop: { user_id: context.accountSid, call_control_id: context.carrierCallId },
      }),
    parse(message): ParsedWorkerMessage {
      const parsed = WorkerMessage.safeParse(message);
      if (!parsed.success)
        return { ok: false, problem: parsed.error.issues[0]?.message ?? 'invalid' };
      const value = parsed.data;
      if (value.stream_id !== undefined && value.stream_id !== streamId) {
        return { ok: false, problem: 'stream_id does not match the stream' };
      }
      if (value.event === 'mark')
        return { ok: true, command: { kind: 'mark', name: value.mark.name } };
      if (value.event === 'clear') return { ok: true, command: { kind: 'clear' } };
      const bytes = Buffer.from(value.media.payload, 'base64');
      if (bytes.length < MIN_MEDIA_BYTES || bytes.length > MAX_MEDIA_BYTES) {
        return { ok: false, problem: `media of ${bytes.length} bytes: Telnyx takes 20 ms to 30 s` };
      }
      return { ok: true, command: { kind: 'audio', mulaw: bytes } };
    },
  };
}
