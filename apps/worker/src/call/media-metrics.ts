/**
 * Media and setup metrics of one call: the setup timeline (reserve, attach, stream start,
 * first inbound media, first bot audio), frames in and out, late and lost inbound frames,
 * and the playback queue.
 */
import type { WorkerMetrics } from '../metrics.js';

export interface InboundFramePosition {
  /** Per-stream media frame counter (Twilio `media.chunk`), when the provider sends one. */
  chunk?: number | undefined;
  /** Milliseconds since the stream started (Twilio `media.timestamp`). */
  timestampMs?: number | undefined;
  /** Milliseconds of audio in the frame; the expected step to the next timestamp. */
  durationMs: number;
}

export class CallMediaMetrics {
  readonly #metrics: WorkerMetrics;
  readonly #attachedAt: number;
  #streamStartedAt: number | null = null;
  #firstInboundAt: number | null = null;
  #firstOutboundSeen = false;
  #nextChunk: number | null = null;
  #lastTimestampMs: number | null = null;
  #lastDurationMs = 0;

  /** `reservedAt` is the dialler's reservation time (ISO 8601), when the attach carried it. */
  constructor(metrics: WorkerMetrics, attachedAt: number, reservedAt: string | undefined) {
    this.#metrics = metrics;
    this.#attachedAt = attachedAt;
    if (reservedAt !== undefined) {
      const reservedMs = Date.parse(reservedAt);
      // A clock skewed between dialler and worker can put the reservation after the attach.
      if (Number.isFinite(reservedMs) && reservedMs <= attachedAt) {
        this.#observe('reserve-to-attach', attachedAt - reservedMs);
      }
    }
  }

  streamStarted(now = Date.now()): void {
    if (this.#streamStartedAt !== null) return;
    this.#streamStartedAt = now;
    this.#observe('attach-to-stream', now - this.#attachedAt);
  }

  /** Counts one decoded inbound media frame and checks its position for gaps. */
  inboundFrame(position: InboundFramePosition, now = Date.now()): void {
    this.#metrics.frames.inc({ direction: 'inbound' });
    if (position.chunk !== undefined) this.#trackChunk(position.chunk);
    else if (position.timestampMs !== undefined) {
      this.#trackTimestamp(position.timestampMs, position.durationMs);
    }
    if (this.#firstInboundAt !== null) return;
    this.#firstInboundAt = now;
    if (this.#streamStartedAt !== null) {
      this.#observe('stream-to-first-inbound-media', now - this.#streamStartedAt);
    }
  }

  /** Counts a media frame that the decoder dropped as a duplicate or as older than one played. */
  lateFrame(): void {
    this.#metrics.lateFrames.inc();
  }

  /** Counts one outbound media frame; `queuedMessages` is what still waits behind it. */
  outboundFrame(queuedMessages: number, now = Date.now()): void {
    this.#metrics.frames.inc({ direction: 'outbound' });
    this.#metrics.playbackQueue.set(queuedMessages);
    this.#metrics.playbackQueueDepth.observe(queuedMessages);
    if (this.#firstOutboundSeen) return;
    this.#firstOutboundSeen = true;
    if (this.#streamStartedAt !== null) {
      this.#observe('stream-to-first-audio', now - this.#streamStartedAt);
    }
    if (this.#firstInboundAt !== null) {
      this.#observe('first-inbound-media-to-first-bot-audio', now - this.#firstInboundAt);
    }
  }

  ended(): void {
    this.#metrics.playbackQueue.set(0);
  }

  /**
   * A chunk above the expected one counts the skipped chunks as lost. A chunk below it is
   * late, and it is not taken back from the lost count, because a counter only goes up.
   */
  #trackChunk(chunk: number): void {
    const expected = this.#nextChunk;
    if (expected !== null && chunk < expected) {
      this.#metrics.lateFrames.inc();
      return;
    }
    if (expected !== null && chunk > expected) this.#metrics.lostFrames.inc(chunk - expected);
    this.#nextChunk = chunk + 1;
  }

  /** Counts frames missing between two timestamps, in units of the previous frame's length. */
  #trackTimestamp(timestampMs: number, durationMs: number): void {
    const last = this.#lastTimestampMs;
    if (last !== null && timestampMs <= last) {
      this.#metrics.lateFrames.inc();
      return;
    }
    if (last !== null && this.#lastDurationMs > 0) {
      const missing = Math.round((timestampMs - last) / this.#lastDurationMs) - 1;
      if (missing > 0) this.#metrics.lostFrames.inc(missing);
    }
    this.#lastTimestampMs = timestampMs;
    this.#lastDurationMs = durationMs;
  }

  #observe(phase: string, elapsedMs: number): void {
    this.#metrics.callSetup.observe({ phase }, Math.max(0, elapsedMs) / 1000);
  }
}
