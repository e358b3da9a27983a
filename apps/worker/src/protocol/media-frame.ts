/**
 * A hand-written check of the one frame a stream sends 50 times a second: `media`. Each
 * adapter's zod schema stays the rule. This check accepts a frame only when that schema would
 * accept it too and returns null for anything else, so the adapter parses that frame with
 * zod and gets its error message. Without it, V8 optimizing zod's parser in the middle of a
 * call stalled single frames for 1-5 ms (docs/benchmarks.md, "Worker").
 */
import type { ZodMiniType } from 'zod/mini';

import { z } from '../validation.js';

/** Field names and limits of one provider's `media` frame. */
export interface MediaFrameShape {
  sequenceKey: 'sequenceNumber' | 'sequence_number';
  streamKey: 'streamSid' | 'stream_sid' | 'streamId' | 'stream_id';
  /** `decimal-string` is Twilio's string of up to 20 digits, `counter` a number or a string. */
  counters: 'decimal-string' | 'counter';
  /** Whether the schema has `media.track` (a string of at most 32 characters). */
  track: boolean;
  maxPayloadLength: number;
}

export interface MediaFields {
  streamId: string;
  payload: string;
  track?: string;
  chunk?: number | string;
  timestamp?: number | string;
}

const DECIMAL_STRING = /^[0-9]{1,20}$/;
const COUNTER_STRING = /^[0-9]{1,15}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const STREAM_ID_MAX_LENGTH = 128;
const TRACK_MAX_LENGTH = 32;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCounter(value: unknown, kind: MediaFrameShape['counters']): boolean {
  if (typeof value === 'string') {
    return (kind === 'decimal-string' ? DECIMAL_STRING : COUNTER_STRING).test(value);
  }
  return (
    kind === 'counter' && typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
  );
}

/**
 * Reads a valid `media` frame, or returns null when the frame is not one: another event, a
 * bad field, or a case this check leaves to the schema. String lengths are compared in
 * UTF-16 units, never fewer than the schema's code points, so a string this check accepts
 * the schema accepts too.
 */
export function readMediaFrame(value: unknown, shape: MediaFrameShape): MediaFields | null {
  if (!isRecord(value) || value['event'] !== 'media') return null;

  const sequence = value[shape.sequenceKey];
  if (sequence !== undefined && !isCounter(sequence, shape.counters)) return null;
  const streamId = value[shape.streamKey];
  if (typeof streamId !== 'string' || streamId.length === 0) return null;
  if (streamId.length > STREAM_ID_MAX_LENGTH) return null;

  const media = value['media'];
  if (!isRecord(media)) return null;
  const payload = media['payload'];
  if (typeof payload !== 'string' || payload.length > shape.maxPayloadLength) return null;
  if (!BASE64.test(payload)) return null;
  const { chunk, timestamp } = media;
  if (chunk !== undefined && !isCounter(chunk, shape.counters)) return null;
  if (timestamp !== undefined && !isCounter(timestamp, shape.counters)) return null;

  const fields: MediaFields = { streamId, payload };
  if (shape.track) {
    const track = media['track'];
    if (track !== undefined && (typeof track !== 'string' || track.length > TRACK_MAX_LENGTH)) {
      return null;
    }
    if (track !== undefined) fields.track = track;
  }
  if (chunk !== undefined) fields.chunk = chunk as number | string;
  if (timestamp !== undefined) fields.timestamp = timestamp as number | string;
  return fields;
}

/** Outcome of reading one inbound frame. */
export type FrameRead<T> = { ok: true; frame: T } | { ok: false; message: string };

/**
 * Reads one inbound frame: a valid `media` frame through the hand-written check and
 * `fromMedia`, every other frame with the provider's `schema`, whose error message a
 * rejected frame carries.
 */
export function readFrame<T>(
  value: unknown,
  shape: MediaFrameShape,
  schema: ZodMiniType<T>,
  fromMedia: (media: MediaFields) => T,
): FrameRead<T> {
  const media = readMediaFrame(value, shape);
  if (media !== null) return { ok: true, frame: fromMedia(media) };
  const parsed = schema.safeParse(value);
  if (!parsed.success) return { ok: false, message: z.prettifyError(parsed.error) };
  return { ok: true, frame: parsed.data };
}
