/**
 * Plivo audio stream framing (docs.plivo.com/docs/voice/xml/audiostream): camelCase fields,
 * numeric counters and `extra_headers` as a `key=value` list. Each call picks one of Plivo's
 * formats at random: `audio/x-l16` at 8 or 16 kHz, or `audio/x-mulaw` at 8 kHz. The worker
 * replies with `playAudio`, `checkpoint` (acknowledged by `playedStream`) and `clearAudio`
 * (acknowledged by `clearedAudio`).
 */
import { randomUUID } from 'node:crypto';
import { decodeMulaw, encodeMulaw, pcmFromBytes, pcmToBytes, resample } from '@voxfleet/audio';
import { z } from 'zod';
import type { CarrierStreamProtocol, ParsedWorkerMessage, StreamProtocolContext } from './types.js';

interface PlivoFormat {
  contentType: 'audio/x-l16' | 'audio/x-mulaw';
  sampleRate: 8000 | 16000;
}

const FORMATS: readonly PlivoFormat[] = [
  { contentType: 'audio/x-l16', sampleRate: 8000 },
  { contentType: 'audio/x-l16', sampleRate: 16000 },
  { contentType: 'audio/x-mulaw', sampleRate: 8000 },
];

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const WorkerMessage = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('playAudio'),
    media: z.object({
      contentType: z.enum(['audio/x-l16', 'audio/x-mulaw']),
      sampleRate: z.union([z.literal(8000), z.literal(16000)]),
      payload: z.string().regex(BASE64, 'must be base64'),
    }),
  }),
  z.object({ event: z.literal('checkpoint'), streamId: z.string(), name: z.string().min(1) }),
  z.object({ event: z.literal('clearAudio'), streamId: z.string() }),
]);

export function createPlivoProtocol(context: StreamProtocolContext): CarrierStreamProtocol {
  const streamId = randomUUID();
  const format = FORMATS[Math.floor(context.random() * FORMATS.length)] ?? FORMATS[0];
  if (format === undefined) throw new Error('no Plivo format');
  const extraHeaders = Object.entries(context.customParameters)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');

  const encodeCallerFrame = (mulawBase64: string): string => {
    if (format.contentType === 'audio/x-mulaw') return mulawBase64;
    const pcm = decodeMulaw(Buffer.from(mulawBase64, 'base64'));
    return pcmToBytes(resample(pcm, 8000, format.sampleRate)).toString('base64');
  };

  return {
    provider: 'plivo',
    streamId,
    // Plivo sends no `connected` message; the stream opens with `start`.
    connected: () => null,
    start: (next) =>
      JSON.stringify({
        event: 'start',
        sequenceNumber: next(),
        start: {
          callId: context.carrierCallId,
          streamId,
          accountId: context.accountSid,
          tracks: ['inbound'],
          mediaFormat: { encoding: format.contentType, sampleRate: format.sampleRate },
        },
        extra_headers: extraHeaders,
      }),
    media: (frame, next) => [
      JSON.stringify({
        event: 'media',
        sequenceNumber: next(),
        streamId,
        media: {
          track: 'inbound',
          timestamp: String(frame.mediaMs),
          chunk: frame.index,
          payload: encodeCallerFrame(frame.mulawBase64),
        },
        extra_headers: extraHeaders,
      }),
    ],
    flushMedia: () => [],
    dtmf: (next, digit) =>
      JSON.stringify({ event: 'dtmf', sequenceNumber: next(), streamId, dtmf: { digit } }),
    markPlayed: (next, name) =>
      JSON.stringify({ event: 'playedStream', sequenceNumber: next(), streamId, name }),
    clearAcknowledgement: (next) =>
      JSON.stringify({ event: 'clearedAudio', sequenceNumber: next(), streamId }),
    stop: (next) => JSON.stringify({ event: 'stop', sequenceNumber: next(), streamId }),
    parse(message): ParsedWorkerMessage {
      const parsed = WorkerMessage.safeParse(message);
      if (!parsed.success)
        return { ok: false, problem: parsed.error.issues[0]?.message ?? 'invalid' };
      const value = parsed.data;
      if (value.event === 'playAudio') {
        const { contentType, sampleRate, payload } = value.media;
        if (contentType !== format.contentType || sampleRate !== format.sampleRate) {
          return {
            ok: false,
            problem: `playAudio in ${contentType} at ${sampleRate} Hz, not the stream's format`,
          };
        }
        const bytes = Buffer.from(payload, 'base64');
        if (contentType === 'audio/x-mulaw')
          return { ok: true, command: { kind: 'audio', mulaw: bytes } };
        const pcm = resample(pcmFromBytes(bytes), sampleRate, 8000);
        return { ok: true, command: { kind: 'audio', mulaw: encodeMulaw(pcm) } };
      }
      if (value.streamId !== streamId)
        return { ok: false, problem: 'streamId does not match the stream' };
      if (value.event === 'checkpoint')
        return { ok: true, command: { kind: 'mark', name: value.name } };
      return { ok: true, command: { kind: 'clear' } };
    },
  };
}
