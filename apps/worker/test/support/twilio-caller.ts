/**
 * A test carrier that speaks the Twilio Media Streams protocol to the worker. It opens the
 * stream, sends `connected` and `start`, and streams μ-law audio, DTMF and `stop`. It echoes
 * every `mark` as soon as it arrives, which is after the audio sent before it; Twilio echoes
 * a mark once that audio has played.
 */
import { readFileSync } from 'node:fs';
import { FRAME_SAMPLES, downmixToMono, encodeMulaw, parseWav, resample } from '@voxfleet/audio';
import WebSocket from 'ws';

export interface ReceivedMessage {
  event: string;
  streamSid?: string;
  media?: { payload: string };
  mark?: { name: string };
}

export class UpgradeRejectedError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade rejected with status ${status}: ${body}`);
  }
}

/** Loads a WAV file as 8 kHz mono PCM. */
export function loadPcm(path: string): Int16Array {
  const audio = parseWav(readFileSync(path));
  return resample(downmixToMono(audio.samples, audio.channels), audio.sampleRate, 8000);
}

export class TwilioCaller {
  readonly streamSid = `MZ${Math.random().toString(16).slice(2, 18)}`;
  readonly received: ReceivedMessage[] = [];
  readonly marks: string[] = [];
  mediaBytesReceived = 0;
  closeCode: number | null = null;
  echoMarks = true;
  readonly #socket: WebSocket;
  readonly #closed: Promise<number>;
  #sequence = 0;
  #chunk = 0;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    this.#closed = new Promise((resolve) => {
      socket.on('close', (code) => {
        this.closeCode = code;
        resolve(code);
      });
    });
    socket.on('message', (data) => this.#onMessage(data.toString()));
  }

  /** Opens the stream; rejects with UpgradeRejectedError when the worker refuses. */
  static connect(url: string): Promise<TwilioCaller> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.once('open', () => resolve(new TwilioCaller(socket)));
      socket.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          reject(new UpgradeRejectedError(res.statusCode ?? 0, Buffer.concat(chunks).toString()));
          socket.terminate();
        });
      });
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  sendConnected(): void {
    this.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  }

  sendStart(customParameters: Record<string, string> = {}): void {
    this.sendJson({
      event: 'start',
      sequenceNumber: this.#nextSequence(),
      streamSid: this.streamSid,
      start: {
        streamSid: this.streamSid,
        accountSid: 'ACtest',
        callSid: 'CAtest',
        tracks: ['inbound'],
        customParameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
  }

  /** Sends PCM as 20 ms μ-law media frames, `delayMs` apart (0 sends a burst). */
  async sendAudio(pcm: Int16Array, delayMs = 0): Promise<number> {
    let frames = 0;
    for (let start = 0; start < pcm.length; start += FRAME_SAMPLES) {
      const frame = new Int16Array(FRAME_SAMPLES);
      frame.set(pcm.subarray(start, Math.min(start + FRAME_SAMPLES, pcm.length)));
      this.sendMediaFrame(encodeMulaw(frame));
      frames++;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    return frames;
  }

  sendMediaFrame(mulaw: Uint8Array): void {
    this.#chunk++;
    this.sendJson({
      event: 'media',
      sequenceNumber: this.#nextSequence(),
      streamSid: this.streamSid,
      media: {
        track: 'inbound',
        chunk: String(this.#chunk),
        timestamp: String(this.#chunk * 20),
        payload: Buffer.from(mulaw).toString('base64'),
      },
    });
  }

  sendDtmf(digit: string): void {
    this.sendJson({
      event: 'dtmf',
      sequenceNumber: this.#nextSequence(),
      streamSid: this.streamSid,
      dtmf: { track: 'inbound_track', digit },
    });
  }

  sendStop(): void {
    this.sendJson({
      event: 'stop',
      sequenceNumber: this.#nextSequence(),
      streamSid: this.streamSid,
      stop: { accountSid: 'ACtest', callSid: 'CAtest' },
    });
  }

  sendJson(message: unknown): void {
    this.#socket.send(JSON.stringify(message));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.#socket.send(data, { binary });
  }

  /** Resolves once the worker sent a mark named `name`. */
  async waitForMark(name: string, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.marks.includes(name)) {
      if (Date.now() > deadline) throw new Error(`no mark ${name} within ${timeoutMs} ms`);
      if (!this.isOpen) throw new Error(`stream closed before mark ${name}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Resolves with the close code once the socket closed. */
  async waitForClose(timeoutMs = 5_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`socket still open after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.#closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#socket.close(1000);
  }

  terminate(): void {
    this.#socket.terminate();
  }

  #onMessage(text: string): void {
    const message = JSON.parse(text) as ReceivedMessage;
    this.received.push(message);
    if (message.event === 'media' && message.media !== undefined) {
      this.mediaBytesReceived += Buffer.from(message.media.payload, 'base64').byteLength;
    }
    if (message.event === 'mark' && message.mark !== undefined) {
      this.marks.push(message.mark.name);
      if (this.echoMarks) {
        this.sendJson({
          event: 'mark',
          sequenceNumber: this.#nextSequence(),
          streamSid: this.streamSid,
          mark: { name: message.mark.name },
        });
      }
    }
  }

  #nextSequence(): string {
    this.#sequence++;
    return String(this.#sequence);
  }
}
