/**
 * Shared conformance checks for the media-stream protocols. A `Dialect` describes one
 * provider's frames from the carrier's side. `ProtocolCaller` plays that carrier against a
 * real worker (test harness, scripted session) and acknowledges every playback mark as soon
 * as it arrives. `defineConformanceTests` registers the checks every provider must pass.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { CallResult } from '@voxfleet/schema';
import WebSocket from 'ws';
import type { Provider } from '../src/protocol/types.js';
import { Harness, SOUNDS_DIR, attachBody, postJson, waitUntil } from './support/harness.js';
import { loadPcm } from './support/twilio-caller.js';

export interface StartIds {
  streamId: string;
  carrierCallId: string;
  params: Record<string, string>;
}

export type OutboundMessage =
  | { kind: 'media'; samples8k: number; bytes: number }
  | { kind: 'mark'; name: string }
  | { kind: 'clear' };

/** One provider's frames, from the carrier's side. */
export interface Dialect {
  provider: Provider;
  /** 8 kHz samples per inbound media message. */
  samplesPerMedia: number;
  newStreamId(): string;
  connected(): unknown;
  start(ids: StartIds): unknown;
  /** A media frame carrying `pcm` (8 kHz, `samplesPerMedia` long), encoded in the wire format. */
  media(streamId: string, index: number, pcm: Int16Array): unknown;
  dtmf(streamId: string, digit: string): unknown;
  markAck(streamId: string, name: string): unknown;
  stop(streamId: string): unknown;
  /** Classifies a message from the worker; throws when it is not in the provider's shape. */
  readOutbound(message: Record<string, unknown>, streamId: string): OutboundMessage;
}

export class ProtocolCaller {
  readonly streamId: string;
  readonly outbound: OutboundMessage[] = [];
  readonly marks: string[] = [];
  readonly #dialect: Dialect;
  readonly #socket: WebSocket;
  readonly #closed: Promise<number>;
  #index = 0;

  private constructor(dialect: Dialect, socket: WebSocket) {
    this.#dialect = dialect;
    this.#socket = socket;
    this.streamId = dialect.newStreamId();
    this.#closed = new Promise((resolve) => socket.on('close', (code) => resolve(code)));
    socket.on('message', (data) => this.#onMessage(data.toString()));
  }

  static connect(
    dialect: Dialect,
    url: string,
    headers: Record<string, string> = {},
  ): Promise<ProtocolCaller> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      socket.once('open', () => resolve(new ProtocolCaller(dialect, socket)));
      socket.once('unexpected-response', (_req, res) => {
        res.resume();
        socket.terminate();
        reject(new Error(`upgrade rejected with status ${res.statusCode ?? 0}`));
      });
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  sendJson(frame: unknown): void {
    if (frame !== null) this.#socket.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.#socket.send(data, { binary });
  }

  open(params: Record<string, string>): void {
    this.sendJson(this.#dialect.connected());
    this.sendJson(
      this.#dialect.start({ streamId: this.streamId, carrierCallId: 'carrier-call-1', params }),
    );
  }

  /** Sends `pcm` in media messages; returns the milliseconds of audio sent. */
  sendAudio(pcm: Int16Array): number {
    const size = this.#dialect.samplesPerMedia;
    let sent = 0;
    for (let start = 0; start < pcm.length; start += size) {
      const chunk = new Int16Array(size);
      chunk.set(pcm.subarray(start, Math.min(start + size, pcm.length)));
      this.#index++;
      this.sendJson(this.#dialect.media(this.streamId, this.#index, chunk));
      sent += size;
    }
    return sent / 8;
  }

  sendDtmf(digit: string): void {
    this.sendJson(this.#dialect.dtmf(this.streamId, digit));
  }

  sendStop(): void {
    this.sendJson(this.#dialect.stop(this.streamId));
  }

  async waitForMark(name: string, timeoutMs = 5_000): Promise<void> {
    await waitUntil(() => this.marks.includes(name), `mark ${name}`, timeoutMs);
  }

  async waitForClose(timeoutMs = 5_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('socket still open')), timeoutMs);
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

  #onMessage(text: string): void {
    const message = JSON.parse(text) as Record<string, unknown>;
    const outbound = this.#dialect.readOutbound(message, this.streamId);
    this.outbound.push(outbound);
    if (outbound.kind === 'mark') {
      this.marks.push(outbound.name);
      this.sendJson(this.#dialect.markAck(this.streamId, outbound.name));
    }
  }
}

/** Base64 of `samples` as 16-bit little-endian PCM. */
export function l16Base64(samples: Int16Array): string {
  const bytes = Buffer.alloc(samples.length * 2);
  samples.forEach((sample, i) => bytes.writeInt16LE(sample, i * 2));
  return bytes.toString('base64');
}

/** Generates a 440 Hz tone at 8 kHz, loud enough to count as speech. */
export function tone(samples: number): Int16Array {
  const pcm = new Int16Array(samples);
  for (let i = 0; i < samples; i++)
    pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
  return pcm;
}

export interface ConformanceContext {
  harness: Harness;
  url: () => string;
  /** Attaches a call (to the first worker unless `workerUrl` is given); returns its id, token and the stream URL with and without the token. */
  attach: (
    workerUrl?: string,
  ) => Promise<{ callId: string; token: string; streamUrl: string; bareUrl: string }>;
}

/** Idle timeout of the conformance workers, so a stalled stream ends within the test. */
export const TEST_IDLE_TIMEOUT_MS = 4_000;

/** Starts a harness and registers the checks every provider passes. */
export function defineConformanceTests(dialect: Dialect): ConformanceContext {
  const harness = new Harness();
  let url = '';

  before(async () => {
    await harness.open();
    ({ url } = await harness.startWorker({ streamIdleTimeoutMs: TEST_IDLE_TIMEOUT_MS }));
  });
  after(async () => {
    await harness.close();
  });

  const attach: ConformanceContext['attach'] = async (workerUrl = url) => {
    await waitUntil(async () => (await fetch(`${workerUrl}/ready`)).status === 200, 'worker ready');
    const reservation = await harness.reserve();
    const response = await postJson(`${workerUrl}/attach`, attachBody(reservation));
    assert.equal(response.status, 200);
    const streamUrl = String(response.body['streamUrl']);
    const bare = new URL(streamUrl);
    bare.searchParams.delete('token');
    return {
      callId: reservation.callId,
      token: reservation.token,
      streamUrl,
      bareUrl: bare.toString(),
    };
  };

  const name = dialect.provider;

  test(`${name}: call with DTMF and marks completes`, async () => {
    const call = await attach();
    const caller = await ProtocolCaller.connect(dialect, call.bareUrl);
    caller.open({ token: call.token, callId: call.callId });

    await caller.waitForMark('greeting');
    const sentMs = caller.sendAudio(loadPcm(join(SOUNDS_DIR, 'hello.wav')));
    caller.sendDtmf('1');
    await caller.waitForMark('goodbye');
    assert.equal(await caller.waitForClose(), 1000);

    const result = CallResult.parse(await harness.bridge.waitForResult(call.callId));
    assert.equal(result.status, 'completed');
    assert.equal(result.outcome, 'pressed-1');
    assert.equal(result.durationMs, sentMs);
    const started = result.timeline.find((entry) => entry.event === 'stream-started');
    assert.equal(started?.detail?.['provider'], name);

    const media = caller.outbound.filter((message) => message.kind === 'media');
    assert.ok(media.length > 0, 'the worker sent no audio');
    const greetingIndex = caller.outbound.findIndex(
      (message) => message.kind === 'mark' && message.name === 'greeting',
    );
    assert.ok(greetingIndex > 0, 'greeting mark was not after its audio');
  });

  test(`${name}: start without the token is rejected`, async () => {
    const call = await attach();
    const caller = await ProtocolCaller.connect(dialect, call.bareUrl);
    caller.open({ callId: call.callId });
    assert.equal(await caller.waitForClose(), 1008);

    const wrong = await ProtocolCaller.connect(dialect, call.bareUrl);
    wrong.open({ token: `${call.token}x`, callId: call.callId });
    assert.equal(await wrong.waitForClose(), 1008);

    // The call still waits for its stream: the right token starts it.
    const right = await ProtocolCaller.connect(dialect, call.bareUrl);
    right.open({ token: call.token, callId: call.callId });
    await right.waitForMark('greeting');
    right.sendStop();
    const result = CallResult.parse(await harness.bridge.waitForResult(call.callId));
    assert.equal(result.outcome, 'caller-hangup');
  });

  test(`${name}: malformed, binary and oversized frames are ignored`, async () => {
    const call = await attach();
    const caller = await ProtocolCaller.connect(dialect, call.streamUrl);
    caller.open({});
    caller.sendRaw('{not json');
    caller.sendRaw(Buffer.from([1, 2, 3]), true);
    caller.sendRaw(JSON.stringify({ event: 'media', padding: 'x'.repeat(70_000) }));
    caller.sendJson({ event: 'media', nonsense: true });
    caller.sendJson([1, 2, 3]);
    await caller.waitForMark('greeting');
    caller.sendAudio(tone(800));
    caller.sendDtmf('2');
    await caller.waitForMark('goodbye');
    assert.equal(await caller.waitForClose(), 1000);

    const result = CallResult.parse(await harness.bridge.waitForResult(call.callId));
    assert.equal(result.outcome, 'pressed-2');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const reason of ['invalid-json', 'binary', 'too-large', 'invalid-frame']) {
      assert.match(metrics, new RegExp(`invalid_frames_total\\{reason="${reason}"\\} [1-9]`));
    }
  });

  test(`${name}: stalled stream ends at the idle timeout`, async () => {
    const call = await attach();
    const caller = await ProtocolCaller.connect(dialect, call.streamUrl);
    caller.open({});
    await caller.waitForMark('greeting');
    caller.sendAudio(tone(400));
    // The carrier now sends nothing more and keeps the socket open.
    const startedAt = Date.now();
    const code = await caller.waitForClose(TEST_IDLE_TIMEOUT_MS + 5_000);
    assert.equal(code, 1011);
    assert.ok(Date.now() - startedAt >= TEST_IDLE_TIMEOUT_MS - 100);

    const result = CallResult.parse(await harness.bridge.waitForResult(call.callId));
    assert.notEqual(result.status, 'completed');
    assert.ok(result.timeline.some((entry) => entry.event === 'stream-idle'));
  });

  return { harness, url: () => url, attach };
}
