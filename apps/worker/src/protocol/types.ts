/**
 * The internal model of a carrier media stream. Each provider adapter (Twilio, Exotel, Plivo,
 * Telnyx) turns its inbound frames into `StreamEvent`s carrying 8 kHz 16-bit PCM, and builds
 * its own outbound messages from the engine's 8 kHz PCM.
 */

export const PROVIDERS = ['twilio', 'exotel', 'plivo', 'telnyx'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** Returns the provider named by `value`, or null when it names none. */
export function parseProvider(value: string): Provider | null {
  return (PROVIDERS as readonly string[]).includes(value) ? (value as Provider) : null;
}

/** Audio encoding on the wire: G.711 μ-law, G.711 A-law or 16-bit little-endian linear PCM. */
export type WireEncoding = 'mulaw' | 'alaw' | 'l16';
export type WireSampleRate = 8000 | 16000 | 24000;

export interface MediaFormat {
  encoding: WireEncoding;
  sampleRate: WireSampleRate;
}

/** Fields of a `start` frame, whatever names the provider gives them. */
export interface StreamStart {
  provider: Provider;
  streamId: string;
  /** The carrier's id of the call (Twilio `callSid`, Telnyx `call_control_id`, ...). */
  carrierCallId: string;
  /** Key-value pairs the operator attached to the stream; `token` and `callId` are read. */
  customParameters: Record<string, string>;
  mediaFormat: MediaFormat;
}

export type StreamEvent =
  | { type: 'start'; start: StreamStart }
  /**
   * Caller audio as 8 kHz 16-bit PCM of any length, with the provider's media frame counter
   * and stream time in milliseconds when it sends them.
   */
  | { type: 'media'; pcm: Int16Array; chunk?: number; timestampMs?: number }
  | { type: 'dtmf'; digit: string }
  /** Playback acknowledgement: the audio sent before the mark has played. */
  | { type: 'mark'; name: string }
  | { type: 'stop' }
  /** A valid frame the call does not act on (Plivo `clearedAudio`, Telnyx `error`). */
  | { type: 'notice'; event: string; detail?: string };

export type FrameRejection =
  | 'invalid-json'
  | 'invalid-frame'
  | 'before-start'
  | 'duplicate-start'
  /** The frame's stream id is not the started stream's; the label predates other providers. */
  | 'wrong-stream-sid'
  | 'unsupported-format'
  | 'duplicate-media'
  | 'stale-media';

export type DecodeResult =
  { ok: true; events: StreamEvent[] } | { ok: false; reason: FrameRejection; message: string };

/** One started stream: decodes its frames and builds its outbound messages. */
export interface ProtocolStream {
  readonly start: StreamStart;
  /** Samples of 8 kHz audio per outbound media message; shorter audio is padded with silence. */
  readonly outboundFrameSamples: number;
  /** Decodes one parsed JSON frame that arrived after `start`. */
  decode(frame: unknown): DecodeResult;
  /** Builds one media message from exactly `outboundFrameSamples` samples of 8 kHz PCM. */
  buildMedia(pcm: Int16Array): string;
  buildMark(name: string): string;
  buildClear(): string;
}

export type StartResult =
  | { ok: true; stream: ProtocolStream }
  | { ok: false; reason: 'invalid-frame' | 'unsupported-format'; message: string };

export interface ProtocolAdapter {
  readonly provider: Provider;
  /**
   * True when a `start` frame has this provider's identifying fields; `keys` are the names
   * of the frame's top-level fields and of its `start` object's fields.
   */
  matchesStart(keys: ReadonlySet<string>): boolean;
  /** Validates a `start` frame and opens the stream it describes. */
  openStream(frame: unknown): StartResult;
}
