/**
 * Exotel Voicebot (AgentStream) media streams, as documented at
 * developer.exotel.com/docs/agentstream/websocket-protocol: snake_case fields, caller audio
 * as base64 16-bit little-endian PCM about every 100 ms, at the rate in
 * `start.media_format.sample_rate` (8000 by default, 16000 or 24000 with `?sample-rate=`).
 */
import { z } from '../validation.js';
import { readFrame, type MediaFields, type MediaFrameShape } from './media-frame.js';
import type {
  DecodeResult,
  ProtocolAdapter,
  ProtocolStream,
  StreamStart,
  WireSampleRate,
} from './types.js';
import {
  BASE64_MAX_LENGTH,
  Base64Payload,
  Counter,
  DtmfDigit,
  MarkName,
  ParameterRecord,
  StreamId,
  decodeWireAudio,
  encodeWireAudio,
  mediaEvent,
  text,
} from './wire-audio.js';

/**
 * 200 ms of 8 kHz audio per outbound `media` message. Exotel wants chunks in multiples of
 * 320 bytes from 3.2 KB to 100 KB (support.exotel.com, "Working with the Stream applet");
 * 200 ms is 3.2 KB at 8 kHz, 6.4 KB at 16 kHz and 9.6 KB at 24 kHz, all multiples of 320.
 * NOTE: audio before a mark is padded to a whole chunk, so up to 200 ms of silence follows
 * each prompt.
 */
const EXOTEL_FRAME_SAMPLES = 1600;

const SampleRate = z.pipe(
  z.pipe(
    z.union([z.string(), z.number()]),
    z.transform((value) => Number(value)),
  ),
  z.union([z.literal(8000), z.literal(16000), z.literal(24000)]),
);

const StartFrame = z.object({
  event: z.literal('start'),
  sequence_number: z.optional(Counter),
  stream_sid: StreamId,
  start: z.object({
    stream_sid: z.optional(StreamId),
    call_sid: text(128),
    account_sid: z.optional(text(128)),
    from: z.optional(text(64)),
    to: z.optional(text(64)),
    custom_parameters: z._default(ParameterRecord, {}),
    media_format: z._default(
      z.object({
        encoding: z.optional(text(64)),
        sample_rate: z._default(SampleRate, 8000),
        bit_rate: z.optional(z.union([z.string(), z.number()])),
      }),
      { sample_rate: 8000 },
    ),
  }),
});

export const InboundFrame = z.discriminatedUnion('event', [
  z.object({ event: z.literal('connected') }),
  z.object({
    event: z.literal('media'),
    sequence_number: z.optional(Counter),
    stream_sid: StreamId,
    media: z.object({
      chunk: z.optional(Counter),
      timestamp: z.optional(Counter),
      payload: Base64Payload,
    }),
  }),
  z.object({
    event: z.literal('dtmf'),
    sequence_number: z.optional(Counter),
    stream_sid: StreamId,
    dtmf: z.object({ digit: DtmfDigit, duration: z.optional(Counter) }),
  }),
  z.object({
    event: z.literal('mark'),
    sequence_number: z.optional(Counter),
    stream_sid: StreamId,
    mark: z.object({ name: MarkName }),
  }),
  z.object({
    event: z.literal('stop'),
    sequence_number: z.optional(Counter),
    stream_sid: StreamId,
    stop: z.optional(z.looseObject({ reason: z.optional(text(256)) })),
  }),
  z.looseObject({ event: z.literal('start') }),
]);

export const MEDIA_SHAPE: MediaFrameShape = {
  sequenceKey: 'sequence_number',
  streamKey: 'stream_sid',
  counters: 'counter',
  track: false,
  maxPayloadLength: BASE64_MAX_LENGTH,
};

/** Builds the schema's output for a media frame that passed the hand-written check. */
function mediaFrame(media: MediaFields): z.infer<typeof InboundFrame> {
  return {
    event: 'media',
    stream_sid: media.streamId,
    media: { payload: media.payload, chunk: media.chunk, timestamp: media.timestamp },
  };
}

class ExotelStream implements ProtocolStream {
  readonly start: StreamStart;
  readonly outboundFrameSamples = EXOTEL_FRAME_SAMPLES;

  constructor(start: StreamStart) {
    this.start = start;
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
    if (frame.stream_sid !== this.start.streamId) {
      return { ok: false, reason: 'wrong-stream-sid', message: 'stream_sid does not match' };
    }
    switch (frame.event) {
      case 'media': {
        const pcm = decodeWireAudio(frame.media.payload, this.start.mediaFormat);
        return { ok: true, events: [mediaEvent(pcm, frame.media.chunk, frame.media.timestamp)] };
      }
      case 'dtmf':
        return { ok: true, events: [{ type: 'dtmf', digit: frame.dtmf.digit }] };
      case 'mark':
        return { ok: true, events: [{ type: 'mark', name: frame.mark.name }] };
      case 'stop':
        return { ok: true, events: [{ type: 'stop' }] };
    }
  }

  buildMedia(pcm: Int16Array): string {
    const payload = encodeWireAudio(pcm, this.start.mediaFormat);
    return JSON.stringify({ event: 'media', stream_sid: this.start.streamId, media: { payload } });
  }

  buildMark(name: string): string {
    return JSON.stringify({ event: 'mark', stream_sid: this.start.streamId, mark: { name } });
  }

  buildClear(): string {
    return JSON.stringify({ event: 'clear', stream_sid: this.start.streamId });
  }
}

/** Exotel: `start` carries `stream_sid` and `start.call_sid`. */
export const exotelAdapter: ProtocolAdapter = {
  provider: 'exotel',
  matchesStart: (keys) => keys.has('stream_sid') && keys.has('call_sid'),
  openStream(value) {
    const parsed = StartFrame.safeParse(value);
    if (!parsed.success) {
      return { ok: false, reason: 'invalid-frame', message: z.prettifyError(parsed.error) };
    }
    const frame = parsed.data;
    const sampleRate: WireSampleRate = frame.start.media_format.sample_rate;
    return {
      ok: true,
      stream: new ExotelStream({
        provider: 'exotel',
        streamId: frame.stream_sid,
        carrierCallId: frame.start.call_sid,
        customParameters: frame.start.custom_parameters,
        mediaFormat: { encoding: 'l16', sampleRate },
      }),
    };
  },
};
