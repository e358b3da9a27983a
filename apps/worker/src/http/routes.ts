/**
 * The worker's HTTP routes on node:http:
 * `GET /health`, `GET /ready`, `GET /metrics`, `POST /attach`,
 * `POST /attach/{callId}/cancel`, `POST /livekit/dialout` and `POST /drain` (internal token).
 * Errors reply `{ error: { code, message } }`; WebSocket upgrades are handled in `worker.ts`.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WorkerError } from '../errors.js';
import type { LiveKitConfig } from '../livekit/config.js';
import { decodePathSegment, type Worker } from '../worker.js';
import { checkAttachRequest } from './attach-body.js';
import { readJsonBody, sendError, sendJson } from './responses.js';

const CANCEL_PATH = /^\/attach\/([^/]+)\/cancel$/;

export async function handleRequest(
  worker: Worker,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    await route(worker, req, res);
  } catch (err) {
    const error =
      err instanceof WorkerError
        ? err
        : new WorkerError('INTERNAL', 'internal error', { cause: err });
    if (error.code === 'INTERNAL') {
      worker.log.error({ err, method: req.method, url: req.url }, 'request failed');
    }
    if (req.url === '/attach' || req.url === '/livekit/dialout')
      worker.metrics.attachRejections.inc({ code: error.code });
    if (!res.headersSent) sendError(res, error);
    else res.destroy();
  }
}

async function route(worker: Worker, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://worker.invalid').pathname;
  const method = req.method ?? 'GET';

  if (path === '/health' && method === 'GET') {
    return sendJson(res, 200, { status: 'ok', workerId: worker.workerId, state: worker.state });
  }
  if (path === '/ready' && method === 'GET') {
    return sendJson(res, worker.ready ? 200 : 503, {
      ready: worker.ready,
      workerId: worker.workerId,
      state: worker.state,
    });
  }
  if (path === '/metrics' && method === 'GET') {
    const text = await worker.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': worker.metrics.registry.contentType });
    res.end(text);
    return;
  }
  if (path === '/attach' && method === 'POST') {
    return sendJson(res, 200, await attach(worker, await readJsonBody(req)));
  }
  if (path === '/livekit/dialout' && method === 'POST') {
    return sendJson(res, 200, await dialOutWithLiveKit(worker, await readJsonBody(req)));
  }
  const cancel = CANCEL_PATH.exec(path);
  if (cancel !== null && method === 'POST') {
    const callId = decodePathSegment(cancel[1] ?? '');
    if (callId === null)
      throw new WorkerError('INVALID_REQUEST', 'call id in the path is malformed');
    return sendJson(res, 200, await worker.cancel(callId, await readJsonBody(req)));
  }
  if (path === '/drain' && method === 'POST') {
    if (!hasBearer(req, worker.internalToken)) {
      throw new WorkerError('UNAUTHORIZED', 'POST /drain needs the internal bearer token');
    }
    worker.requestDrain();
    return sendJson(res, 202, { state: worker.state });
  }
  throw new WorkerError('NOT_FOUND', `no route for ${method} ${path}`);
}

/** Attaches a call; one whose media is in a LiveKit room also joins that room. */
async function attach(worker: Worker, body: unknown): Promise<unknown> {
  const parsed = checkAttachRequest(body);
  if (!parsed.ok || parsed.value.media?.kind !== 'livekit') return worker.attach(body);
  const { callId, reservationToken, media } = parsed.value;
  const config = requireLiveKit(worker);
  const { attachToRoom } = await import('../livekit/room-attach.js');
  const context = { worker, config, media: worker.livekitMedia, log: worker.log };
  return attachToRoom(context, { callId, reservationToken, room: media.room, raw: body });
}

/** Loads the LiveKit modules on the first dial-out only, so an idle worker never loads them. */
async function dialOutWithLiveKit(worker: Worker, body: unknown): Promise<unknown> {
  const config = requireLiveKit(worker);
  const { dialOut } = await import('../livekit/dialout.js');
  return dialOut({ worker, config, media: worker.livekitMedia, log: worker.log }, body);
}

function requireLiveKit(worker: Worker): LiveKitConfig {
  const config = worker.livekitConfig;
  if (config === undefined) {
    throw new WorkerError(
      'LIVEKIT_NOT_CONFIGURED',
      'LiveKit calls need LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET and LIVEKIT_SIP_TRUNK_ID',
    );
  }
  return config;
}

function hasBearer(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const received = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '', 'utf8');
  const expected = Buffer.from(token, 'utf8');
  return received.length === expected.length && timingSafeEqual(received, expected);
}
