/**
 * Test fixtures: a sim carrier on a free port, a status callback receiver and a minimal
 * worker that speaks the Twilio Media Streams protocol over a real WebSocket server.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, type WebSocket } from 'ws';
import { FRAME_SAMPLES, encodeMulaw } from '@voxfleet/audio';
import type { CarrierStatusEvent, PlaceCallRequestInput } from '@voxfleet/schema';
import { createSimCarrier, type SimCarrier, type SimCarrierOptions } from '../src/index.js';

export const TEST_SECRET = 'test-callback-secret';

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  description: string,
  check: () => T | undefined,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The header the sim carrier requires on its call routes when a secret is configured. */
export const AUTH = { 'x-carrier-secret': TEST_SECRET };

export async function startCarrier(
  options: SimCarrierOptions = {},
): Promise<{ carrier: SimCarrier; url: string }> {
  const carrier = createSimCarrier({
    port: 0,
    speed: 10,
    callbackSecret: TEST_SECRET,
    ...options,
  });
  const { url } = await carrier.start();
  return { carrier, url };
}

export interface ReceivedCallback {
  event: CarrierStatusEvent;
  headers: IncomingHttpHeaders;
  receivedAt: number;
}

/** An HTTP server recording status callbacks; the first `failFirst` requests get 500. */
export class CallbackReceiver {
  readonly received: ReceivedCallback[] = [];
  attempts = 0;
  failFirst = 0;
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.attempts++;
        if (this.attempts <= this.failFirst) {
          res.writeHead(500).end();
          return;
        }
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CarrierStatusEvent;
        this.received.push({ event, headers: req.headers, receivedAt: performance.now() });
        res.writeHead(204).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/carrier/status`;
    return this;
  }

  statuses(carrierCallId: string): string[] {
    return this.events(carrierCallId).map((event) => event.status);
  }

  events(carrierCallId: string): CarrierStatusEvent[] {
    return this.received
      .map((entry) => entry.event)
      .filter((event) => event.carrierCallId === carrierCallId);
  }

  /** Waits for a final status (anything after `ringing`/`answered`) of the call. */
  waitForFinal(carrierCallId: string, timeoutMs = 10_000): Promise<CarrierStatusEvent> {
    return waitFor(
      `final status of ${carrierCallId}`,
      () =>
        this.events(carrierCallId).find((e) => e.status !== 'ringing' && e.status !== 'answered'),
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A Twilio message as the test worker received it. */
export interface ReceivedMessage {
  event: string;
  receivedAt: number;
  /** Media messages received before this one, this one included. */
  mediaCount: number;
  [key: string]: unknown;
}

/** One media stream as seen by the test worker. */
export class WorkerConnection {
  readonly messages: ReceivedMessage[] = [];
  readonly path: string;
  readonly closed: Promise<{ code: number }>;
  private readonly socket: WebSocket;
  private mediaCount = 0;

  constructor(socket: WebSocket, path: string) {
    this.socket = socket;
    this.path = path;
    this.closed = new Promise((resolve) => socket.on('close', (code) => resolve({ code })));
    socket.on('message', (data) => {
      const parsed = JSON.parse(String(data)) as { event: string };
      if (parsed.event === 'media') this.mediaCount++;
      this.messages.push({ ...parsed, receivedAt: performance.now(), mediaCount: this.mediaCount });
    });
  }

  get streamSid(): string {
    const start = this.messages.find((m) => m.event === 'start');
    return typeof start?.streamSid === 'string' ? start.streamSid : '';
  }

  /** Media frames received so far. */
  get mediaFrames(): number {
    return this.mediaCount;
  }

  byEvent(event: string): ReceivedMessage[] {
    return this.messages.filter((m) => m.event === event);
  }

  waitForEvent(event: string, timeoutMs = 5000, after = 0): Promise<ReceivedMessage> {
    return waitFor(
      `"${event}" message`,
      () => this.messages.slice(after).find((m) => m.event === event),
      timeoutMs,
    );
  }

  waitForMark(name: string, timeoutMs = 5000): Promise<ReceivedMessage> {
    return waitFor(
      `mark "${name}"`,
      () =>
        this.messages.find(
          (m) => m.event === 'mark' && (m.mark as { name?: string } | undefined)?.name === name,
        ),
      timeoutMs,
    );
  }

  /** Sends μ-law audio as `media` messages of `chunkBytes` each. */
  sendAudio(mulaw: Uint8Array, chunkBytes = FRAME_SAMPLES): void {
    for (let offset = 0; offset < mulaw.length; offset += chunkBytes) {
      const payload = Buffer.from(mulaw.subarray(offset, offset + chunkBytes)).toString('base64');
      this.send({ event: 'media', streamSid: this.streamSid, media: { payload } });
    }
  }

  sendMark(name: string): void {
    this.send({ event: 'mark', streamSid: this.streamSid, mark: { name } });
  }

  sendClear(): void {
    this.send({ event: 'clear', streamSid: this.streamSid });
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  close(code = 1000): void {
    this.socket.close(code);
  }

  /** Drops the TCP connection without a close frame, as a crashed worker would. */
  terminate(): void {
    this.socket.terminate();
  }
}

/** A WebSocket server standing in for the worker's `/ws/{botId}` endpoint. */
export class TestWorker {
  readonly connections: WorkerConnection[] = [];
  private server: WebSocketServer | undefined;
  private rejectStatus: number | undefined;
  port = 0;

  /** @param rejectStatus when set, every upgrade is refused with this HTTP status. */
  constructor(rejectStatus?: number) {
    this.rejectStatus = rejectStatus;
  }

  async start(onConnection?: (conn: WorkerConnection) => void): Promise<this> {
    const rejectStatus = this.rejectStatus;
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      verifyClient:
        rejectStatus === undefined
          ? undefined
          : (_info, callback) => callback(false, rejectStatus, 'Forbidden'),
    });
    server.on('connection', (socket, req) => {
      const conn = new WorkerConnection(socket, req.url ?? '');
      this.connections.push(conn);
      onConnection?.(conn);
    });
    await once(server, 'listening');
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  streamUrl(botId = 'bot-1', query = 'callId=c1&token=secret-token'): string {
    return `ws://127.0.0.1:${this.port}/ws/${botId}?${query}`;
  }

  nextConnection(index = 0, timeoutMs = 5000): Promise<WorkerConnection> {
    return waitFor(`worker connection #${index}`, () => this.connections[index], timeoutMs);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Generates a sine tone as μ-law at an RMS level of about -13 dBFS, which the callee hears. */
export function toneMulaw(durationMs: number, frequencyHz = 440): Uint8Array {
  const samples = Math.round((durationMs / 1000) * 8000);
  const pcm = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    pcm[i] = Math.round(10_000 * Math.sin((2 * Math.PI * frequencyHz * i) / 8000));
  }
  return encodeMulaw(pcm);
}

export function callRequest(
  worker: TestWorker,
  receiver: CallbackReceiver,
  overrides: Partial<PlaceCallRequestInput> = {},
): PlaceCallRequestInput {
  return {
    callId: `call-${Math.random().toString(36).slice(2, 10)}`,
    to: '+919800000001',
    streamUrl: worker.streamUrl(),
    statusCallbackUrl: receiver.url,
    ...overrides,
  };
}

export async function postCall(
  carrierUrl: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${carrierUrl}/v1/calls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** Places a call and returns its carrier call id; fails the test unless the response status is 201. */
export async function placeCall(carrierUrl: string, body: PlaceCallRequestInput): Promise<string> {
  const { status, json } = await postCall(carrierUrl, body);
  if (status !== 201 || typeof json.carrierCallId !== 'string') {
    throw new Error(`place-call returned ${status}: ${JSON.stringify(json)}`);
  }
  return json.carrierCallId;
}

export async function getCall(
  carrierUrl: string,
  carrierCallId: string,
): Promise<Record<string, unknown> & { media: Record<string, unknown> }> {
  const response = await fetch(`${carrierUrl}/v1/calls/${carrierCallId}`, { headers: AUTH });
  if (response.status !== 200) throw new Error(`GET call returned ${response.status}`);
  return (await response.json()) as Record<string, unknown> & { media: Record<string, unknown> };
}

/** Plays a greeting tone followed by the mark `greeting`, as a bot's first prompt. */
export function playGreeting(conn: WorkerConnection, durationMs: number): void {
  conn.sendAudio(toneMulaw(durationMs));
  conn.sendMark('greeting');
}

/** Asserts `min <= value <= max`, one bound per assert so a failure names the bound. */
export function assertBetween(value: number, min: number, max: number, label: string): void {
  assert.ok(value >= min, `${label}: ${value} is below ${min}`);
  assert.ok(value <= max, `${label}: ${value} is above ${max}`);
}
