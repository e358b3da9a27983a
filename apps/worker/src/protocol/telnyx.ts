/**
 * Telnyx media streaming over WebSocket, as documented at
 * developers.telnyx.com/api-reference/websockets/stream-call-media-over-websocket:
 * snake_case fields, RTP payloads without headers (PCMU or PCMA at 8 kHz here) and
 * `client_state` as base64. Telnyx does not guarantee the order of `media` frames, so
 * inbound audio passes through a small reorder buffer keyed by `media.chunk`.
 */
import { z } from '../validation.js';
import { readFrame, type MediaFields, type MediaFrameShape } from './media-frame.js';
import type {
  DecodeResult,
  MediaFormat,
  ProtocolAdapter,
  ProtocolStream,
  StreamEvent,
  StreamStart,
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

type MediaEvent = ReturnType<typeof mediaEvent>;

/** 20 ms per outbound `media` message, the shortest chunk Telnyx accepts (20 ms to 30 s). */
const TELNYX_FRAME_SAMPLES = 160;
/** Frames held while waiting for a missing chunk: 100 ms of audio, then the gap is skipped. */
const REORDER_WINDOW = 5;

const StartFrame = z.object({
  event: z.literal('start'),
  sequence_number: z.optional(Counter),
  stream_id: StreamId,
  start: z.object({
    user_id: z.optional(text(128)),
    call_control_id: text(256, 1),
    call_session_id: z.optional(text(256)),
    client_state: z.optional(text(4096)),
    from: z.optional(text(128)),
    to: z.optional(text(128)),
    media_format: z._default(
      z.object({
        encoding: z._default(text(32), 'PCMU'),
        sample_rate: z._default(z.coerce.number().check(z.int()), 8000),
        channels: z._default(z.coerce.number().check(z.int()), 1),
      }),
      { encoding: 'PCMU', sample_rate: 8000, channels: 1 },
    ),
  }),
});

export const InboundFrame = z.discriminatedUnion('event', [
  z.looseObject({ event: z.literal('connected') }),
  z.object({
    event: z.literal('media'),
    sequence_number: z.optional(Counter),
    stream_id: StreamId,
    media: z.object({
      track: z.optional(text(32)),
      chunk: z.optional(Counter),
      timestamp: z.optional(Counter),
      payload: Base64Payload,
    }),
  }),
  z.object({
    event: z.literal('dtmf'),
    sequence_number: z.optional(Counter),
    stream_id: StreamId,
    dtmf: z.object({ digit: DtmfDigit }),
  }),
  z.object({
    event: z.literal('mark'),
    sequence_number: z.optional(Counter),
    stream_id: StreamId,
    mark: z.object({ name: MarkName }),
  }),
  z.looseObject({
    event: z.literal('stop'),
    sequence_number: z.optional(Counter),
    stream_id: StreamId,
  }),
  z.looseObject({
    event: z.literal('error'),
    payload: z.optional(z.looseObject({ code: z.optional(Counter), title: z.optional(text(256)) })),
  }),
  z.looseObject({ event: z.literal('start') }),
]);

/**
 * Reads `client_state`: base64 of a JSON object of strings (`{"token":"...","callId":"..."}`),
 * or base64 of the bare token.
 */
export function parseClientState(clientState: string | undefined): Record<string, string> {
  if (clientState === undefined || clientState === '') return {};
  const decoded = Buffer.from(clientState, 'base64').toString('utf8');
  try {
    const value: unknown = JSON.parse(decoded);
    const parsed = ParameterRecord.safeParse(value);
    if (parsed.success) return parsed.data;
  } catch {
    // Not JSON: the whole text is the token.
  }
  return { token: decoded };
}

function toMediaFormat(encoding: string, sampleRate: number): MediaFormat | null {
  if (sampleRate !== 8000) return null;
  if (encoding === 'PCMU') return { encoding: 'mulaw', sampleRate };
  if (encoding === 'PCMA') return { encoding: 'alaw', sampleRate };
  return null;
}

export const MEDIA_SHAPE: MediaFrameShape = {
  sequenceKey: 'sequence_number',
  streamKey: 'stream_id',
  counters: 'counter',
  track: true,
  maxPayloadLength: BASE64_MAX_LENGTH,
};

/** Builds the schema's output for a media frame that passed the hand-written check. */
function mediaFrame(media: MediaFields): z.infer<typeof InboundFrame> {
  return {
    event: 'media',
    stream_id: media.streamId,
    media: {
      payload: media.payload,
      track: media.track,
      chunk: media.chunk,
      timestamp: media.timestamp,
    },
  };
}

class TelnyxStream implements ProtocolStream {
  readonly start: StreamStart;
  readonly outboundFrameSamples = TELNYX_FRAME_SAMPLES;
  /** Chunk number expected next; null until the first numbered frame. */
  #nextChunk: number | null = null;
  readonly #held = new Map<number, MediaEvent>();

  constructor(start: StreamStart) {
    this.start = start;
  }

  decode(value: unknown): DecodeResult {
    const read = readFrame(value, MEDIA_SHAPE, InboundFrame, mediaFrame);
    if (!read.ok) return { ok: false, reason: 'invalid-frame', message: read.message };
    const frame = read.frame;
    switch (frame.event) {
      case 'connected':
        return { ok: true, events: [{ type: 'notice', event: 'connected' }] };
      case 'start':
        return { ok: false, reason: 'duplicate-start', message: 'second start frame' };
      case 'error':
        return {
          ok: true,
          events: [{ type: 'notice', event: 'error', detail: frame.payload?.title ?? '' }],
        };
    }
    if (frame.stream_id !== this.start.streamId) {
      return { ok: false, reason: 'wrong-stream-sid', message: 'stream_id does not match' };
    }
    switch (frame.event) {
      case 'media': {
        const track = frame.media.track;
        if (track !== undefined && track !== 'inbound' && track !== 'inbound_track') {
          return { ok: true, events: [{ type: 'notice', event: 'media', detail: track }] };
        }
        const pcm = decodeWireAudio(frame.media.payload, this.start.mediaFormat);
        return this.#reorder(mediaEvent(pcm, frame.media.chunk, frame.media.timestamp));
      }
      case 'dtmf':
        return { ok: true, events: [{ type: 'dtmf', digit: frame.dtmf.digit }] };
      case 'mark':
        return { ok: true, events: [{ type: 'mark', name: frame.mark.name }] };
      case 'stop':
        return { ok: true, events: [...this.#releaseHeld(), { type: 'stop' }] };
    }
  }

  buildMedia(pcm: Int16Array): string {
    return JSON.stringify({
      event: 'media',
      media: { payload: encodeWireAudio(pcm, this.start.mediaFormat) },
    });
  }

  buildMark(name: string): string {
    return JSON.stringify({ event: 'mark', mark: { name } });
  }

  buildClear(): string {
    return JSON.stringify({ event: 'clear' });
  }

  /** Delivers frames in chunk order, holding early ones until the gap fills or the window is full. */
  #reorder(media: MediaEvent): DecodeResult {
    const chunk = media.chunk;
    if (chunk === undefined) return { ok: true, events: [media] };
    // Telnyx counts chunks from 1, so an early first frame waits for the ones before it.
    if (this.#nextChunk === null) this.#nextChunk = chunk <= REORDER_WINDOW + 1 ? 1 : chunk;
    if (chunk < this.#nextChunk) {
      return { ok: false, reason: 'stale-media', message: `chunk ${chunk} already played` };
    }
    if (this.#held.has(chunk)) {
      return { ok: false, reason: 'duplicate-media', message: `chunk ${chunk} received twice` };
    }
    this.#held.set(chunk, media);

    const events: StreamEvent[] = [];
    for (;;) {
      const next = this.#held.get(this.#nextChunk);
      if (next !== undefined) {
        this.#held.delete(this.#nextChunk);
        events.push(next);
        this.#nextChunk++;
        continue;
      }
      if (this.#held.size <= REORDER_WINDOW) break;
      // The missing chunk is presumed lost: skip to the oldest frame held.
      this.#nextChunk = Math.min(...this.#held.keys());
    }
    return { ok: true, events };
  }

  #releaseHeld(): StreamEvent[] {
    const chunks = [...this.#held.keys()].sort((a, b) => a - b);
    const events: StreamEvent[] = chunks.flatMap((chunk) => this.#held.get(chunk) ?? []);
    this.#held.clear();
    return events;
  }
}

/** Telnyx: `stream_id` and `start.call_control_id`. */
export const telnyxAdapter: ProtocolAdapter = {
  provider: 'telnyx',
  matchesStart: (keys) => keys.has('stream_id') && keys.has('call_control_id'),
  openStream(value) {
    const parsed = StartFrame.safeParse(value);
    if (!parsed.success) {
      return { ok: false, reason: 'invalid-frame', message: z.prettifyError(parsed.error) };
    }
    const frame = parsed.data;
    const { encoding, sample_rate: sampleRate } = frame.start.media_format;
    const mediaFormat = toMediaFormat(encoding, sampleRate);
    if (mediaFormat === null) {
      return {
        ok: false,
        reason: 'unsupported-format',
        message: `unsupported Telnyx media format ${encoding} at ${sampleRate} Hz: use PCMU or PCMA`,
      };
    }
    return {
      ok: true,
      stream: new TelnyxStream({
        provider: 'telnyx',
        streamId: frame.stream_id,
        carrierCallId: frame.start.call_control_id,
        customParameters: parseClientState(frame.start.client_state),
        mediaFormat,
      }),
    };
  },
};
