/**
 * Plivo audio streams (`<Stream bidirectional="true">`), as documented at
 * docs.plivo.com/docs/voice/xml/audiostream and plivo.com/docs/voice-agents/audio-streaming:
 * camelCase fields, counters as numbers, `extra_headers` as a `key=value` list. Caller audio
 * is `audio/x-mulaw` at 8 kHz or `audio/x-l16` at 8 or 16 kHz. Replies go out as `playAudio`
 * in the same format. Plivo acknowledges a `checkpoint` with `playedStream`.
 */
import { z } from '../validation.js';
import { readFrame, type MediaFields, type MediaFrameShape } from './media-frame.js';
import type {
  DecodeResult,
  MediaFormat,
  ProtocolAdapter,
  ProtocolStream,
  StreamStart,
} from './types.js';
import {
  BASE64_MAX_LENGTH,
  Base64Payload,
  Counter,
  DtmfDigit,
  MarkName,
  StreamId,
  decodeWireAudio,
  encodeWireAudio,
  mediaEvent,
  text,
} from './wire-audio.js';

/** 20 ms of 8 kHz audio per `playAudio` message. */
const PLIVO_FRAME_SAMPLES = 160;

/**
 * Plivo sends `extraHeaders` as `k=v` pairs; its docs show both `,` and `;` as separators.
 * An object form is accepted as well.
 */
const ExtraHeaders = z.pipe(
  z.optional(z.union([text(4096), z.record(text(256), text(4096))])),
  z.transform((value) => (typeof value === 'string' ? parseKeyValueList(value) : (value ?? {}))),
);

const MediaFormatField = z._default(
  z.object({
    encoding: z._default(text(64), 'audio/x-l16'),
    sampleRate: z._default(z.coerce.number().check(z.int()), 8000),
  }),
  { encoding: 'audio/x-l16', sampleRate: 8000 },
);

const StartFrame = z.object({
  event: z.literal('start'),
  sequenceNumber: z.optional(Counter),
  start: z.object({
    callId: text(128, 1),
    streamId: StreamId,
    accountId: z.optional(text(128)),
    tracks: z.optional(z.array(text(32)).check(z.maxLength(4))),
    mediaFormat: MediaFormatField,
  }),
  extra_headers: ExtraHeaders,
});

export const InboundFrame = z.discriminatedUnion('event', [
  z.looseObject({ event: z.literal('connected') }),
  z.object({
    event: z.literal('media'),
    sequenceNumber: z.optional(Counter),
    streamId: StreamId,
    media: z.object({
      track: z.optional(text(32)),
      timestamp: z.optional(Counter),
      chunk: z.optional(Counter),
      payload: Base64Payload,
    }),
  }),
  z.object({
    event: z.literal('dtmf'),
    sequenceNumber: z.optional(Counter),
    streamId: StreamId,
    dtmf: z.object({ digit: DtmfDigit }),
  }),
  z.object({
    event: z.literal('playedStream'),
    sequenceNumber: z.optional(Counter),
    streamId: StreamId,
    name: MarkName,
  }),
  z.looseObject({ event: z.literal('clearedAudio'), streamId: StreamId }),
  z.looseObject({ event: z.literal('stop'), streamId: StreamId }),
  z.looseObject({ event: z.literal('start') }),
]);

/** Parses `a=1,b=2` or `a=1;b=2`; pieces without `=` are skipped. */
export function parseKeyValueList(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const piece of text.split(/[,;]/)) {
    const index = piece.indexOf('=');
    if (index <= 0) continue;
    values[piece.slice(0, index).trim()] = piece.slice(index + 1).trim();
  }
  return values;
}

/** Maps Plivo's `contentType`/`sampleRate` pair; null for a combination Plivo does not offer. */
function toMediaFormat(encoding: string, sampleRate: number): MediaFormat | null {
  const type = encoding.split(';')[0]?.trim().toLowerCase();
  if (type === 'audio/x-mulaw' && sampleRate === 8000) return { encoding: 'mulaw', sampleRate };
  if (type === 'audio/x-l16' && (sampleRate === 8000 || sampleRate === 16000)) {
    return { encoding: 'l16', sampleRate };
  }
  return null;
}

export const MEDIA_SHAPE: MediaFrameShape = {
  sequenceKey: 'sequenceNumber',
  streamKey: 'streamId',
  counters: 'counter',
  track: true,
  maxPayloadLength: BASE64_MAX_LENGTH,
};

/** Builds the schema's output for a media frame that passed the hand-written check. */
function mediaFrame(media: MediaFields): z.infer<typeof InboundFrame> {
  return {
    event: 'media',
    streamId: media.streamId,
    media: {
      payload: media.payload,
      track: media.track,
      chunk: media.chunk,
      timestamp: media.timestamp,
    },
  };
}

class PlivoStream implements ProtocolStream {
  readonly start: StreamStart;
  readonly outboundFrameSamples = PLIVO_FRAME_SAMPLES;
  readonly #contentType: string;

  constructor(start: StreamStart) {
    this.start = start;
    this.#contentType = start.mediaFormat.encoding === 'mulaw' ? 'audio/x-mulaw' : 'audio/x-l16';
  }

  decode(value: unknown): DecodeResult {
    const read = readFrame(value, MEDIA_SHAPE, InboundFrame, mediaFrame);
    if (!read.ok) return { ok: false, reason: 'invalid-frame', message: read.message };
    const frame = read.frame;
    if (frame.event === 'connected') {
      return { ok: true, events: [{ type: 'notice', event: 'connected' }] };
    }
    if (frame.event === 'start') {
      return { ok: false, reason: 'duplicate-start', message: 'second start frame' };
    }
    if (frame.streamId !== this.start.streamId) {
      return { ok: false, reason: 'wrong-stream-sid', message: 'streamId does not match' };
    }
    switch (frame.event) {
      case 'media': {
        const pcm = decodeWireAudio(frame.media.payload, this.start.mediaFormat);
        return { ok: true, events: [mediaEvent(pcm, frame.media.chunk, frame.media.timestamp)] };
      }
      case 'dtmf':
        return { ok: true, events: [{ type: 'dtmf', digit: frame.dtmf.digit }] };
      case 'playedStream':
        return { ok: true, events: [{ type: 'mark', name: frame.name }] };
      case 'clearedAudio':
        return { ok: true, events: [{ type: 'notice', event: 'clearedAudio' }] };
      case 'stop':
        return { ok: true, events: [{ type: 'stop' }] };
    }
  }

  buildMedia(pcm: Int16Array): string {
    return JSON.stringify({
      event: 'playAudio',
      media: {
        contentType: this.#contentType,
        sampleRate: this.start.mediaFormat.sampleRate,
        payload: encodeWireAudio(pcm, this.start.mediaFormat),
      },
    });
  }

  buildMark(name: string): string {
    return JSON.stringify({ event: 'checkpoint', streamId: this.start.streamId, name });
  }

  buildClear(): string {
    return JSON.stringify({ event: 'clearAudio', streamId: this.start.streamId });
  }
}

/** Plivo: `start.streamId` and `start.callId`. */
export const plivoAdapter: ProtocolAdapter = {
  provider: 'plivo',
  matchesStart: (keys) => keys.has('streamId') && keys.has('callId'),
  openStream(value) {
    const parsed = StartFrame.safeParse(value);
    if (!parsed.success) {
      return { ok: false, reason: 'invalid-frame', message: z.prettifyError(parsed.error) };
    }
    const frame = parsed.data;
    const { encoding, sampleRate } = frame.start.mediaFormat;
    const mediaFormat = toMediaFormat(encoding, sampleRate);
    if (mediaFormat === null) {
      return {
        ok: false,
        reason: 'unsupported-format',
        message: `unsupported Plivo media format ${encoding.slice(0, 64)} at ${sampleRate} Hz`,
      };
    }
    return {
      ok: true,
      stream: new PlivoStream({
        provider: 'plivo',
        streamId: frame.start.streamId,
        carrierCallId: frame.start.callId,
        customParameters: frame.extra_headers,
        mediaFormat,
      }),
    };
  },
};
