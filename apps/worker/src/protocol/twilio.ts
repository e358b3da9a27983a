/**
 * Twilio Media Streams messages, as documented at
 * twilio.com/docs/voice/media-streams/websocket-messages. Inbound frames are validated here;
 * outbound frames are built here. `sequenceNumber`, `chunk` and `timestamp` are decimal
 * strings on the wire. Unknown extra fields are accepted and dropped, because Twilio may add
 * fields; an unknown `event` is invalid.
 */
import type { DecodeResult, ProtocolAdapter, ProtocolStream, StreamStart } from './types.js';
import { z } from '../validation.js';
import { readFrame, type MediaFields, type MediaFrameShape } from './media-frame.js';
import { decodeWireAudio, encodeWireAudio, mediaEvent, text } from './wire-audio.js';

const NumericString = z.string().check(z.regex(/^[0-9]{1,20}$/, 'must be a decimal string'));
const StreamSid = text(128, 1);

export const ConnectedFrame = z.object({
  event: z.literal('connected'),
  protocol: z.optional(text(64)),
  version: z.optional(text(64)),
});

export const StartFrame = z.object({
  event: z.literal('start'),
  sequenceNumber: z.optional(NumericString),
  streamSid: StreamSid,
  start: z.object({
    streamSid: z.optional(StreamSid),
    accountSid: z.optional(text(128)),
    callSid: z.optional(text(128)),
    tracks: z.optional(z.array(text(32)).check(z.maxLength(4))),
    customParameters: z._default(z.record(text(256), text(4096)), {}),
    mediaFormat: z.optional(
      z.object({
        encoding: z.literal('audio/x-mulaw'),
        sampleRate: z.literal(8000),
        channels: z.literal(1),
      }),
    ),
  }),
});
export type StartFrame = z.infer<typeof StartFrame>;

/** Base64 without line breaks; one Twilio media frame is 160 bytes, 216 characters. */
const Base64Payload = z
  .string()
  .check(z.maxLength(48_000), z.regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'));

export const MediaFrame = z.object({
  event: z.literal('media'),
  sequenceNumber: z.optional(NumericString),
  streamSid: StreamSid,
  media: z.object({
    track: z.optional(text(32)),
    chunk: z.optional(NumericString),
    timestamp: z.optional(NumericString),
    payload: Base64Payload,
  }),
});
export type MediaFrame = z.infer<typeof MediaFrame>;

export const DtmfFrame = z.object({
  event: z.literal('dtmf'),
  sequenceNumber: z.optional(NumericString),
  streamSid: StreamSid,
  dtmf: z.object({
    track: z.optional(text(32)),
    digit: z.string().check(z.regex(/^[0-9*#A-D]$/, 'must be one DTMF digit')),
  }),
});

export const MarkFrame = z.object({
  event: z.literal('mark'),
  sequenceNumber: z.optional(NumericString),
  streamSid: StreamSid,
  mark: z.object({ name: text(256, 1) }),
});

export const StopFrame = z.object({
  event: z.literal('stop'),
  sequenceNumber: z.optional(NumericString),
  streamSid: StreamSid,
  stop: z.optional(z.object({ accountSid: z.optional(text(128)), callSid: z.optional(text(128)) })),
});

export const InboundFrame = z.discriminatedUnion('event', [
  ConnectedFrame,
  StartFrame,
  MediaFrame,
  DtmfFrame,
  MarkFrame,
  StopFrame,
]);
export type InboundFrame = z.infer<typeof InboundFrame>;

export type ParseFrameResult =
  | { ok: true; frame: InboundFrame }
  | { ok: false; reason: 'invalid-json' | 'invalid-frame'; message: string };

/** Parses one text frame; never throws. */
export function parseInboundFrame(text: string): ParseFrameResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'invalid-json', message: (err as Error).message };
  }
  const parsed = InboundFrame.safeParse(value);
  if (!parsed.success) {
    return { ok: false, reason: 'invalid-frame', message: z.prettifyError(parsed.error) };
  }
  return { ok: true, frame: parsed.data };
}

export function buildMediaMessage(streamSid: string, mulaw: Uint8Array): string {
  const payload = Buffer.from(mulaw.buffer, mulaw.byteOffset, mulaw.byteLength).toString('base64');
  return JSON.stringify({ event: 'media', streamSid, media: { payload } });
}

export function buildMarkMessage(streamSid: string, name: string): string {
  return JSON.stringify({ event: 'mark', streamSid, mark: { name } });
}

export function buildClearMessage(streamSid: string): string {
  return JSON.stringify({ event: 'clear', streamSid });
}

/** 20 ms of μ-law at 8 kHz per outbound `media` message, as Twilio sends its own frames. */
const TWILIO_FRAME_SAMPLES = 160;

export const MEDIA_SHAPE: MediaFrameShape = {
  sequenceKey: 'sequenceNumber',
  streamKey: 'streamSid',
  counters: 'decimal-string',
  track: true,
  maxPayloadLength: 48_000,
};

/** Builds the schema's output for a media frame that passed the hand-written check. */
function mediaFrame(media: MediaFields): InboundFrame {
  return {
    event: 'media',
    streamSid: media.streamId,
    media: {
      payload: media.payload,
      track: media.track,
      chunk: media.chunk as string | undefined,
      timestamp: media.timestamp as string | undefined,
    },
  };
}

class TwilioStream implements ProtocolStream {
  readonly start: StreamStart;
  readonly outboundFrameSamples = TWILIO_FRAME_SAMPLES;

  constructor(start: StreamStart) {
    this.start = start;
  }

  decode(value: unknown): DecodeResult {
    const read = readFrame(value, MEDIA_SHAPE, InboundFrame, mediaFrame);
    if (!read.ok) return { ok: false, reason: 'invalid-frame', message: read.message };
    const frame = read.frame;
    if (frame.event === 'connected')
      return { ok: true, events: [{ type: 'notice', event: 'connected' }] };
    if (frame.event === 'start')
      return { ok: false, reason: 'duplicate-start', message: 'second start frame' };
    if (frame.streamSid !== this.start.streamId) {
      return {
        ok: false,
        reason: 'wrong-stream-sid',
        message: 'streamSid does not match the stream',
      };
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
    return JSON.stringify({ event: 'media', streamSid: this.start.streamId, media: { payload } });
  }

  buildMark(name: string): string {
    return buildMarkMessage(this.start.streamId, name);
  }

  buildClear(): string {
    return buildClearMessage(this.start.streamId);
  }
}

/** Twilio Media Streams: `start` carries `streamSid` and `start.callSid`; audio is 8 kHz μ-law. */
export const twilioAdapter: ProtocolAdapter = {
  provider: 'twilio',
  matchesStart: (keys) => keys.has('streamSid') && keys.has('callSid'),
  openStream(value) {
    const parsed = StartFrame.safeParse(value);
    if (!parsed.success) {
      return { ok: false, reason: 'invalid-frame', message: z.prettifyError(parsed.error) };
    }
    const frame = parsed.data;
    return {
      ok: true,
      stream: new TwilioStream({
        provider: 'twilio',
        streamId: frame.streamSid,
        carrierCallId: frame.start.callSid ?? '',
        customParameters: frame.start.customParameters,
        mediaFormat: { encoding: 'mulaw', sampleRate: 8000 },
      }),
    };
  },
};
