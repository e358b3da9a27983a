/**
 * Outbound audio for one stream: frames the engine's PCM into 20 ms μ-law messages (160
 * samples, 160 bytes) and sends them with marks in order. Twilio buffers what it receives
 * and plays it at the carrier's pace, so messages go out as fast as the socket takes them.
 * The engine learns what was played from the echoed marks, not from this class.
 */
import { FRAME_SAMPLES, encodeMulaw } from '@voxfleet/audio';
import type { WebSocket } from 'ws';
import { buildClearMessage, buildMarkMessage, buildMediaMessage } from '../protocol/twilio.js';

/** Above this many bytes buffered in the socket, sending waits for the socket to drain. */
const MAX_BUFFERED_BYTES = 256 * 1024;

export interface OutboundMediaOptions {
  socket: WebSocket;
  streamSid: string;
  /** Called once per media message sent. */
  onFrameSent: () => void;
}

export class OutboundMedia {
  readonly #options: OutboundMediaOptions;
  readonly #queue: Array<{ text: string; media: boolean }> = [];
  /** Samples of an unfinished frame, sent once 160 are there or a mark follows. */
  #partial = new Int16Array(0);
  #pumpTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: OutboundMediaOptions) {
    this.#options = options;
  }

  sendAudio(pcm: Int16Array): void {
    if (this.#closed || pcm.length === 0) return;
    let samples = pcm;
    if (this.#partial.length > 0) {
      samples = new Int16Array(this.#partial.length + pcm.length);
      samples.set(this.#partial);
      samples.set(pcm, this.#partial.length);
    }

    const whole = samples.length - (samples.length % FRAME_SAMPLES);
    for (let start = 0; start < whole; start += FRAME_SAMPLES) {
      const frame = encodeMulaw(samples.subarray(start, start + FRAME_SAMPLES));
      this.#queue.push({ text: buildMediaMessage(this.#options.streamSid, frame), media: true });
    }
    this.#partial = samples.slice(whole);
    this.#pump();
  }

  sendMark(name: string): void {
    if (this.#closed) return;
    this.#flushPartial();
    this.#queue.push({ text: buildMarkMessage(this.#options.streamSid, name), media: false });
    this.#pump();
  }

  /** Drops queued audio and marks, and sends `clear` so the carrier drops its buffer too. */
  clear(): void {
    if (this.#closed) return;
    this.#queue.length = 0;
    this.#partial = new Int16Array(0);
    this.#send({ text: buildClearMessage(this.#options.streamSid), media: false });
  }

  /** Number of messages not yet handed to the socket. */
  get queuedCount(): number {
    return this.#queue.length;
  }

  /** Sends what is queued, padding an unfinished frame with silence. */
  flush(): void {
    this.#flushPartial();
    this.#pump();
  }

  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    if (this.#pumpTimer !== null) clearTimeout(this.#pumpTimer);
    this.#pumpTimer = null;
  }

  #flushPartial(): void {
    if (this.#partial.length === 0) return;
    const frame = new Int16Array(FRAME_SAMPLES);
    frame.set(this.#partial);
    this.#partial = new Int16Array(0);
    const text = buildMediaMessage(this.#options.streamSid, encodeMulaw(frame));
    this.#queue.push({ text, media: true });
  }

  #pump(): void {
    if (this.#closed || this.#pumpTimer !== null) return;
    const { socket } = this.#options;
    while (this.#queue.length > 0) {
      if (socket.readyState !== socket.OPEN) {
        this.#queue.length = 0;
        return;
      }
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.#pumpTimer = setTimeout(() => {
          this.#pumpTimer = null;
          this.#pump();
        }, 10);
        return;
      }
      const message = this.#queue.shift();
      if (message === undefined) return;
      this.#send(message);
    }
  }

  #send(message: { text: string; media: boolean }): void {
    const { socket } = this.#options;
    if (socket.readyState !== socket.OPEN) return;
    socket.send(message.text);
    if (message.media) this.#options.onFrameSent();
  }
}
