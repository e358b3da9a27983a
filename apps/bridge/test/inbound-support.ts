/**
 * Fixtures of the inbound tests. A stand-in worker registers a slot in a real SQLite registry
 * and handles `POST /attach` as the worker does: it confirms the reservation and returns the
 * stream URL. A helper posts a carrier webhook as a form.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { CapacityRegistry } from '@voxfleet/registry';
import { AttachRequest } from '@voxfleet/schema';

export interface AttachedCall {
  callId: string;
  botId: string;
  token: string;
  to: string;
  streamTimeoutMs: number;
}

/** One worker slot: `/attach` confirms through the registry like the real worker. */
export class StandInWorker {
  readonly attached: AttachedCall[] = [];
  /** While true, `/attach` returns 409 WORKER_BUSY without confirming. */
  rejectAttach = false;
  url = '';
  #server: Server | null = null;

  constructor(
    private readonly registry: CapacityRegistry,
    readonly workerId: string,
    private readonly pool = 'default',
  ) {}

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      void this.#handle(request).then(([status, body]) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await this.registry.register({
      workerId: this.workerId,
      url: this.url,
      host: '127.0.0.1',
      pool: this.pool,
      labels: {},
      ttlMs: 60_000,
    });
  }

  /** Frees the slot of the last attached call, as the worker does when a call ends. */
  async releaseLast(): Promise<void> {
    const last = this.attached.at(-1);
    if (last !== undefined) await this.registry.release(this.workerId, last.token);
  }

  async stop(): Promise<void> {
    await this.registry.deregister(this.workerId).catch(() => undefined);
    const server = this.#server;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage): Promise<[number, unknown]> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.url !== '/attach' || request.method !== 'POST') return [404, {}];
    if (this.rejectAttach) return [409, { error: { code: 'WORKER_BUSY' } }];
    const body = AttachRequest.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    const confirmed = await this.registry.confirm(this.workerId, body.reservationToken);
    if (confirmed !== 'confirmed') return [403, { error: { code: 'RESERVATION_INVALID' } }];
    this.attached.push({
      callId: body.callId,
      botId: body.botId,
      token: body.reservationToken,
      to: body.to,
      streamTimeoutMs: body.streamTimeoutMs,
    });
    const streamUrl = new URL(`${this.url.replace('http:', 'ws:')}/ws/${body.botId}`);
    streamUrl.searchParams.set('callId', body.callId);
    streamUrl.searchParams.set('token', body.reservationToken);
    return [200, { workerId: this.workerId, callId: body.callId, streamUrl: streamUrl.toString() }];
  }
}

/** Posts `fields` as `application/x-www-form-urlencoded`, as carriers send webhooks. */
export function postForm(
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}
