/**
 * Worker errors. Each carries a stable `code`; the HTTP edge (`http/responses.ts`) maps the
 * code to a status, so nothing below the edge knows about HTTP.
 */

export type WorkerErrorCode =
  | 'WORKER_BUSY'
  | 'WORKER_DRAINING'
  | 'WORKER_NOT_READY'
  | 'RESERVATION_INVALID'
  | 'INVALID_REQUEST'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHORIZED'
  | 'CALL_NOT_FOUND'
  | 'NOT_FOUND'
  | 'BRIDGE_REQUEST_FAILED'
  | 'REGISTRY_UNAVAILABLE'
  | 'INVALID_CONFIG'
  | 'LIVEKIT_NOT_CONFIGURED'
  | 'LIVEKIT_REQUEST_FAILED'
  | 'LIVEKIT_SIP_FAILED'
  | 'LIVEKIT_UNREACHABLE'
  | 'LIVEKIT_MEDIA_UNAVAILABLE'
  | 'INTERNAL';

export interface WorkerErrorOptions {
  cause?: unknown;
  callId?: string;
  /** True when the same request may succeed later, such as a bridge timeout. */
  retryable?: boolean;
}

export class WorkerError extends Error {
  readonly code: WorkerErrorCode;
  readonly callId: string | undefined;
  readonly retryable: boolean;

  constructor(code: WorkerErrorCode, message: string, options: WorkerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WorkerError';
    this.code = code;
    this.callId = options.callId;
    this.retryable = options.retryable ?? false;
  }
}

/** HTTP status for each error code; used only by the HTTP edge. */
export const HTTP_STATUS_BY_CODE: Record<WorkerErrorCode, number> = {
  WORKER_BUSY: 409,
  WORKER_DRAINING: 503,
  WORKER_NOT_READY: 503,
  RESERVATION_INVALID: 403,
  INVALID_REQUEST: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  CALL_NOT_FOUND: 404,
  NOT_FOUND: 404,
  BRIDGE_REQUEST_FAILED: 502,
  REGISTRY_UNAVAILABLE: 503,
  INVALID_CONFIG: 500,
  LIVEKIT_NOT_CONFIGURED: 503,
  LIVEKIT_REQUEST_FAILED: 502,
  LIVEKIT_SIP_FAILED: 502,
  LIVEKIT_UNREACHABLE: 502,
  LIVEKIT_MEDIA_UNAVAILABLE: 503,
  INTERNAL: 500,
};
