/**
 * Test helpers: a real voxbridge on 127.0.0.1 with a free port, SQLite and recordings in a
 * temp folder, and small fetch wrappers. `close()` stops the server and removes the folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createBridge } from '../src/index.js';
import type { Bridge, BridgeOptions } from '../src/index.js';

export const INTERNAL_TOKEN = 'internal-token-for-tests';
export const ADMIN_KEY = 'admin-key-for-tests-0001';
export const API_KEY = 'vfk_bootstrap-key-for-tests';

export interface TestBridge {
  bridge: Bridge;
  url: string;
  dir: string;
  /** Sends a request with the bootstrap tenant's API key unless `headers` overrides it. */
  api(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>;
  /** Sends a request with the internal token. */
  internal(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestBridge(options: Partial<BridgeOptions> = {}): Promise<TestBridge> {
  const dir = await mkdtemp(join(tmpdir(), 'voxbridge-test-'));
  let bridge: Bridge | undefined;
  try {
    bridge = await createBridge({
      port: 0,
      sqlitePath: join(dir, 'bridge.db'),
      recordingsDir: join(dir, 'recordings'),
      internalToken: INTERNAL_TOKEN,
      adminKey: ADMIN_KEY,
      bootstrapApiKey: API_KEY,
      logLevel: 'silent',
      ...options,
    });
    const { url } = await bridge.start();
    const started = bridge;
    const send =
      (auth: string) =>
      async (
        method: string,
        path: string,
        body?: unknown,
        headers: Record<string, string> = {},
      ): Promise<Response> => {
        const init: RequestInit = {
          method,
          headers: { authorization: `Bearer ${auth}`, ...headers },
        };
        if (body !== undefined) {
          const isRaw = typeof body === 'string' || body instanceof Uint8Array;
          init.body = isRaw ? (body as string | Uint8Array) : JSON.stringify(body);
          if (!isRaw) init.headers = { 'content-type': 'application/json', ...init.headers };
        }
        return fetch(url + path, init);
      };
    return {
      bridge: started,
      url,
      dir,
      api: send(API_KEY),
      internal: send(INTERNAL_TOKEN),
      async close() {
        await started.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await bridge?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Reads a JSON body as a loose record, for assertions. */
export async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

/** Reads `{ error: { code } }` from an error response. */
export async function errorCode(response: Response): Promise<string | undefined> {
  const body = (await response.json()) as { error?: { code?: string } };
  return body.error?.code;
}

export const SIMPLE_BOT = {
  name: 'reminder',
  config: {
    start: 'greet',
    nodes: {
      greet: { type: 'say', prompt: { text: 'Hello, this is a reminder.' }, next: 'bye' },
      bye: { type: 'hangup', prompt: { text: 'Goodbye.' }, outcome: 'informed' },
    },
  },
};

/** Creates a bot and a campaign with the given contacts CSV; returns their ids. */
export async function createCampaign(
  t: TestBridge,
  csv: string,
  campaign: Record<string, unknown> = {},
): Promise<{ botId: string; campaignId: string }> {
  const bot = await json(await t.api('POST', '/v1/bots', SIMPLE_BOT));
  const botId = String(bot.id);
  const created = await json(
    await t.api('POST', '/v1/campaigns', { name: 'test', botId, ...campaign }),
  );
  const campaignId = String(created.id);
  const imported = await t.api('POST', `/v1/campaigns/${campaignId}/contacts`, csv, {
    'content-type': 'text/csv',
  });
  if (imported.status !== 200) throw new Error(`contact import failed: ${imported.status}`);
  return { botId, campaignId };
}

/** Builds a 16-bit PCM stereo WAV of `frames` frames of silence. */
export function makeWav(frames: number, sampleRate = 8000): Buffer {
  const dataBytes = frames * 4;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(2, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 4, 28);
  header.writeUInt16LE(4, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  return Buffer.concat([header, Buffer.alloc(dataBytes)]);
}

/** Builds a CallResult body for `callId`. */
export function makeResult(
  callId: string,
  botId: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    callId,
    botId,
    workerId: 'worker-1',
    status: 'completed',
    outcome: 'informed',
    hangupBy: 'bot',
    startedAt: '2026-01-01T10:00:00.000Z',
    endedAt: '2026-01-01T10:00:05.000Z',
    durationMs: 5000,
    transcript: [
      {
        kind: 'prompt',
        atMs: 0,
        nodeId: 'greet',
        text: 'Hello, this is a reminder.',
        playedMs: 2000,
        interrupted: false,
      },
      { kind: 'dtmf', atMs: 2500, digit: '1' },
    ],
    timeline: [{ event: 'stream-started', at: '2026-01-01T10:00:00.000Z' }],
    recording: null,
    error: null,
    ...overrides,
  };
}
