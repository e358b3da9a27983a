/**
 * A test stand-in for voxbridge's internal routes that the worker calls: runtime config,
 * recording upload and result post. It records every request and can be taken down and
 * brought back on the same port.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BotConfigInput, CallResult } from '@voxfleet/schema';

export const INTERNAL_TOKEN = 'test-internal-token';

export interface ReceivedRecording {
  callId: string;
  contentType: string;
  body: Buffer;
}

export const TEST_BOT_CONFIG: BotConfigInput = {
  start: 'menu',
  nodes: {
    menu: {
      type: 'ask',
      prompt: { text: 'Hello. Press 1 to confirm.', audio: 'hello.wav' },
      digits: { '1': 'confirmed' },
      noInput: 'silent',
      timeoutMs: 3000,
      retries: 0,
    },
    confirmed: {
      type: 'hangup',
      prompt: { text: 'Goodbye.', audio: 'goodbye.wav' },
      outcome: 'confirmed',
    },
    silent: { type: 'hangup', outcome: 'no-response' },
  },
};

export class BridgeStandIn {
  readonly results: CallResult[] = [];
  readonly recordings: ReceivedRecording[] = [];
  readonly configRequests: string[] = [];
  /** Status that every internal route returns while set, such as 503. */
  failWith: number | null = null;
  /** Status that the recording upload returns while set, such as 413. */
  failRecordingWith: number | null = null;
  botConfig: BotConfigInput = TEST_BOT_CONFIG;
  #server: Server | null = null;
  #port = 0;
  #waiters: Array<() => void> = [];

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<void> {
    if (this.#server !== null) return;
    const server = createServer((req, res) => {
      void this.#handle(req).then(
        ({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'INTERNAL', message: String(err) } }));
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(this.#port, '127.0.0.1', resolve));
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Closes the server so connections are refused; `start()` reopens it on the same port. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Resolves once a result for `callId` arrived, or rejects after `timeoutMs`. */
  async waitForResult(callId: string, timeoutMs = 10_000): Promise<CallResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.results.find((result) => result.callId === callId);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no result for ${callId} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async #handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    if (req.headers.authorization !== `Bearer ${INTERNAL_TOKEN}`) {
      return { status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'bad token' } } };
    }
    if (this.failWith !== null) {
      return { status: this.failWith, body: { error: { code: 'TEST', message: 'failing' } } };
    }

    const path = req.url ?? '/';
    const config = /^\/internal\/bots\/([^/]+)\/runtime-config$/.exec(path);
    if (config !== null && req.method === 'GET') {
      const botId = decodeURIComponent(config[1] ?? '');
      this.configRequests.push(botId);
      return {
        status: 200,
        body: { botId, tenantId: 't1', name: 'test bot', revision: 3, config: this.botConfig },
      };
    }
    const recording = /^\/internal\/calls\/([^/]+)\/recording$/.exec(path);
    if (recording !== null && req.method === 'PUT') {
      if (this.failRecordingWith !== null) {
        const error = { code: 'TEST', message: 'recording rejected' };
        return { status: this.failRecordingWith, body: { error } };
      }
      const callId = decodeURIComponent(recording[1] ?? '');
      this.recordings.push({
        callId,
        contentType: req.headers['content-type'] ?? '',
        body,
      });
      return { status: 200, body: { key: `recordings/${callId}.wav` } };
    }
    const result = /^\/internal\/calls\/([^/]+)\/result$/.exec(path);
    if (result !== null && req.method === 'POST') {
      const parsed = JSON.parse(body.toString('utf8')) as CallResult;
      const duplicate = this.results.some((r) => r.callId === parsed.callId);
      if (!duplicate) this.results.push(parsed);
      for (const wake of this.#waiters.splice(0)) wake();
      return { status: 200, body: { accepted: true, duplicate } };
    }
    return { status: 404, body: { error: { code: 'NOT_FOUND', message: path } } };
  }
}
