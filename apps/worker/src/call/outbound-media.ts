/**
 * Outbound audio for one stream: cuts the engine's 8 kHz PCM into the provider's media
 * messages (`stream.outboundFrameSamples` each, such as 20 ms for Twilio) and sends them with
 * marks in order. Carriers buffer what they receive and play it at the line's pace, so
 * messages go out as fast as the socket takes them. The engine learns what was played from
 * the acknowledged marks, not from this class.
 */
import type { WebSocket } from 'ws';
import type { ProtocolStream } from '../protocol/types.js';

/** Above this many bytes buffered in the socket, sending waits for the socket to drain. */
const MAX_BUFFERED_BYTES = 256 * 1024;

export interface OutboundMediaOptions {
  socket: WebSocket;
  stream: ProtocolStream;
  /** Called once per media message sent. */
  onFrameSent: () => void;
}

export class OutboundMedia {
  readonly #options: OutboundMediaOptions;
  readonly #queue: Array<{ text: string; media: boolean }> = [];
  /** Samples of an unfinished message, sent once a whole one is there or a mark follows. */
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

    const { stream } = this.#options;
    const frameSamples = stream.outboundFrameSamples;
    const whole = samples.length - (samples.length % frameSamples);
    for (let start = 0; start < whole; start += frameSamples) {
      const text = stream.buildMedia(samples.subarray(start, start + frameSamples));
      this.#queue.push({ text, media: true });
    }
    this.#partial = samples.slice(whole);
    this.#pump();
  }

  sendMark(name: string): void {
    if (this.#closed) return;
    this.#flushPartial();
    this.#queue.push({ text: this.#options.stream.buildMark(name), media: false });
    this.#pump();
  }

  /** Drops queued audio and marks, and sends `clear` so the carrier drops its buffer too. */
  clear(): void {
    if (this.#closed) return;
    this.#queue.length = 0;
    this.#partial = new Int16Array(0);
    this.#send({ text: this.#options.stream.buildClear(), media: false });
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
    const { stream } = this.#options;
    const frame = new Int16Array(stream.outboundFrameSamples);
    frame.set(this.#partial);
    this.#partial = new Int16Array(0);
    this.#queue.push({ text: stream.buildMedia(frame), media: true });
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
