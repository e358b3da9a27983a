/**
 * The sim carrier's HTTP API on node:http:
 * - `POST /v1/calls` places a call (`PlaceCallRequest`) and returns 201 `{ carrierCallId }`.
 * - `POST /v1/inbound-calls` receives a call (`InboundCallRequest`): the carrier requests
 *   instructions from the webhook and returns 201 `{ carrierCallId, callId, action }`.
 * - `GET /v1/calls/{carrierCallId}` returns the call's `CallSnapshot`.
 * - `GET /health` returns 200 while running and 503 while stopping.
 * Errors use Fastify's shape, `{ statusCode, code, error, message }`, so every voxfleet
 * service responds alike; `issues` lists validation problems.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@voxfleet/logger';
import type { CallSnapshot } from './call.js';
import type { InboundCallResult } from './inbound-request.js';
import { CarrierSimError, type CarrierSimErrorCode } from './errors.js';

/** Request bodies larger than this are rejected with 413. */
const MAX_BODY_BYTES = 64 * 1024;

const STATUS_BY_CODE: Record<CarrierSimErrorCode, number> = {
  CARRIER_SIM_INVALID_REQUEST: 400,
  CARRIER_SIM_CALL_NOT_FOUND: 404,
  CARRIER_SIM_CALL_ACTIVE: 409,
  CARRIER_SIM_STOPPING: 503,
  CARRIER_SIM_STOPPED: 503,
  CARRIER_SIM_AUDIO_INVALID: 500,
  CARRIER_SIM_STREAM_CONNECT_FAILED: 502,
  CARRIER_SIM_INVALID_ENV: 500,
  CARRIER_SIM_INVALID_OPTIONS: 500,
  CARRIER_SIM_WEBHOOK_FAILED: 502,
};

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Carrier operations behind the routes. */
export interface CarrierApi {
  /** Validates and places a call; throws `CarrierSimError`. */
  placeCall(body: unknown): { carrierCallId: string };
  /** Validates and receives an inbound call; throws `CarrierSimError`. */
  placeInboundCall(body: unknown): Promise<InboundCallResult>;
  getCall(carrierCallId: string): CallSnapshot | undefined;
  health(): { status: 'ok' | 'stopping'; activeCalls: number };
}

/**
 * Builds the HTTP listener. With `secret` set, the call routes need it in
 * `x-carrier-secret`: the carrier sends that secret to every status callback URL, so a
 * caller who could place calls without it could have it sent anywhere.
 */
export function createRequestListener(
  carrier: CarrierApi,
  log: Logger,
  secret?: string,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (secret !== undefined && path.startsWith('/v1/') && !hasSecret(req, secret)) {
      sendError(res, 401, 'CARRIER_SIM_UNAUTHORIZED', 'missing or wrong x-carrier-secret header');
      req.resume();
      return;
    }
    handle(carrier, req, res).catch((err: unknown) => {
      log.error({ err, method: req.method, url: req.url }, 'request failed');
      if (!res.headersSent) sendError(res, 500, 'CARRIER_SIM_INTERNAL', 'internal error');
    });
  };
}

async function handle(carrier: CarrierApi, req: IncomingMessage, res: ServerResponse) {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const method = req.method ?? 'GET';

  if (path === '/health') {
    if (method !== 'GET') return sendMethodNotAllowed(res, 'GET');
    const health = carrier.health();
    return sendJson(res, health.status === 'ok' ? 200 : 503, health);
  }

  if (path === '/v1/calls') {
    if (method !== 'POST') return sendMethodNotAllowed(res, 'POST');
    const body = await readJsonBody(req);
    if (!body.ok) return sendError(res, body.statusCode, body.code, body.message);
    try {
      return sendJson(res, 201, carrier.placeCall(body.value));
    } catch (err) {
      if (err instanceof CarrierSimError) return sendCarrierError(res, err);
      throw err;
    }
  }

  if (path === '/v1/inbound-calls') {
    if (method !== 'POST') return sendMethodNotAllowed(res, 'POST');
    const body = await readJsonBody(req);
    if (!body.ok) return sendError(res, body.statusCode, body.code, body.message);
    try {
      return sendJson(res, 201, await carrier.placeInboundCall(body.value));
    } catch (err) {
      if (err instanceof CarrierSimError) return sendCarrierError(res, err);
      throw err;
    }
  }

  const match = /^\/v1\/calls\/([^/]+)$/.exec(path);
  if (match?.[1] !== undefined) {
    if (method !== 'GET') return sendMethodNotAllowed(res, 'GET');
    const carrierCallId = safeDecode(match[1]);
    const call = carrierCallId === undefined ? undefined : carrier.getCall(carrierCallId);
    if (call === undefined) {
      return sendError(
        res,
        404,
        'CARRIER_SIM_CALL_NOT_FOUND',
        `call ${match[1]} not found; it never existed or was evicted from memory`,
      );
    }
    return sendJson(res, 200, call);
  }

  return sendError(res, 404, 'CARRIER_SIM_ROUTE_NOT_FOUND', `route ${method} ${path} not found`);
}

type BodyResult =
  { ok: true; value: unknown } | { ok: false; statusCode: number; code: string; message: string };

async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  // An oversized body is still read to its end, so the client receives the 413 response.
  for await (const chunk of req) {
    const buffer = chunk instanceof Buffer ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size <= MAX_BODY_BYTES) chunks.push(buffer);
  }
  if (size > MAX_BODY_BYTES) {
    return {
      ok: false,
      statusCode: 413,
      code: 'CARRIER_SIM_BODY_TOO_LARGE',
      message: `request body exceeds ${MAX_BODY_BYTES} bytes`,
    };
  }

  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      statusCode: 400,
      code: 'CARRIER_SIM_INVALID_JSON',
      message: `request body is not valid JSON: ${detail}`,
    };
  }
}

function sendCarrierError(res: ServerResponse, err: CarrierSimError): void {
  const statusCode = STATUS_BY_CODE[err.code];
  const extra = err.issues.length > 0 ? { issues: err.issues } : {};
  sendError(res, statusCode, err.code, err.message, extra);
}

function sendMethodNotAllowed(res: ServerResponse, allowed: string): void {
  res.setHeader('allow', allowed);
  sendError(res, 405, 'CARRIER_SIM_METHOD_NOT_ALLOWED', `method not allowed; use ${allowed}`);
}

function sendError(
  res: ServerResponse,
  statusCode: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): void {
  const error = REASON_PHRASES[statusCode] ?? 'Error';
  sendJson(res, statusCode, { statusCode, code, error, message, ...extra });
}

function sendJson(res: ServerResponse, statusCode: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function hasSecret(req: IncomingMessage, secret: string): boolean {
  const presented = req.headers['x-carrier-secret'];
  if (typeof presented !== 'string') return false;
  const expected = Buffer.from(secret);
  const candidate = Buffer.from(presented);
  return candidate.length === expected.length && timingSafeEqual(candidate, expected);
}
