/**
 * A carrier's side of a Twilio media stream, opened through HAProxy with a chosen Host
 * header (the test fleet's domain does not resolve). It sends `connected`, `start`, μ-law
 * frames and DTMF, and counts the media frames the worker sends back.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import WebSocket from 'ws';

export interface Rejection {
  status: number;
  body: string;
  servedBy: string | undefined;
  elapsedMs: number;
}

export class StreamClient {
  readonly streamSid = `MZ${Math.random().toString(16).slice(2, 18)}`;
  mediaReceived = 0;
  closeCode: number | null = null;
  readonly #socket: WebSocket;
  readonly #closed: Promise<number>;
  #sequence = 0;
  readonly servedBy: string | undefined;

  private constructor(socket: WebSocket, servedBy: string | undefined) {
    this.#socket = socket;
    this.servedBy = servedBy;
    this.#closed = new Promise((resolve) => {
      socket.on('close', (code) => {
        this.closeCode = code;
        resolve(code);
      });
    });
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as {
        event?: string;
        mark?: { name: string };
      };
      if (message.event === 'media') this.mediaReceived++;
      if (message.event === 'mark' && message.mark !== undefined) {
        this.send({ event: 'mark', streamSid: this.streamSid, mark: message.mark });
      }
    });
  }

  /** Opens the stream; resolves with the client, or with the rejection HAProxy or the worker sent. */
  static open(url: string, host: string): Promise<StreamClient | Rejection> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: { host } });
      socket.once('upgrade', (res) => {
        const servedBy = res.headers['x-voxfleet-served-by'];
        socket.once('open', () =>
          resolve(new StreamClient(socket, typeof servedBy === 'string' ? servedBy : undefined)),
        );
      });
      socket.once('unexpected-response', (_req, res) => {
        const elapsedMs = performance.now() - started;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const servedBy = res.headers['x-voxfleet-served-by'];
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            servedBy: typeof servedBy === 'string' ? servedBy : undefined,
            elapsedMs,
          });
          socket.terminate();
        });
      });
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  /** Sends `connected` and `start`, as a carrier does once the call is answered. */
  begin(): void {
    this.send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.send({
      event: 'start',
      sequenceNumber: String(++this.#sequence),
      streamSid: this.streamSid,
      start: {
        streamSid: this.streamSid,
        accountSid: 'ACtest',
        callSid: `CA${this.streamSid}`,
        tracks: ['inbound'],
        customParameters: {},
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
  }

  /** Sends one 20 ms frame of μ-law silence. */
  sendSilence(): void {
    this.send({
      event: 'media',
      sequenceNumber: String(++this.#sequence),
      streamSid: this.streamSid,
      media: {
        track: 'inbound',
        chunk: String(this.#sequence),
        timestamp: String(this.#sequence * 20),
        payload: Buffer.alloc(160, 0xff).toString('base64'),
      },
    });
  }

  sendDtmf(digit: string): void {
    this.send({
      event: 'dtmf',
      sequenceNumber: String(++this.#sequence),
      streamSid: this.streamSid,
      dtmf: { track: 'inbound_track', digit },
    });
  }

  send(message: unknown): void {
    this.#socket.send(JSON.stringify(message));
  }

  /** Resolves once the worker has sent at least `count` media frames. */
  async waitForMedia(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.mediaReceived < count) {
      if (!this.isOpen) throw new Error(`stream closed after ${this.mediaReceived} media frames`);
      if (Date.now() > deadline)
        throw new Error(`only ${this.mediaReceived} media frames within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async waitForClose(timeoutMs = 15_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`stream still open after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.#closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  terminate(): void {
    this.#socket.terminate();
  }
}

export function isRejection(value: StreamClient | Rejection): value is Rejection {
  return !(value instanceof StreamClient);
}

/** Sends an HTTP request through the ingress with a Host header and parses the JSON response. */
export function requestJson(options: {
  url: string;
  host: string;
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
}): Promise<{ status: number; body: Record<string, unknown>; servedBy: string | undefined }> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      options.url,
      {
        method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
        headers: {
          host: options.host,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const servedBy = res.headers['x-voxfleet-served-by'];
          resolve({
            status: res.statusCode ?? 0,
            body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
            servedBy: typeof servedBy === 'string' ? servedBy : undefined,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Times a WebSocket upgrade request on an already connected socket: from writing the
 * request to the first byte of the response, so TCP setup and client start-up are excluded.
 */
export function timeUpgradeResponse(
  port: number,
  path: string,
  host: string,
): Promise<{ status: number; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let started = 0;
    socket.on('connect', () => {
      started = performance.now();
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
    });
    socket.once('data', (chunk: Buffer) => {
      const elapsedMs = performance.now() - started;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 0);
      socket.destroy();
      resolve({ status, elapsedMs });
    });
    socket.on('error', reject);
  });
}
