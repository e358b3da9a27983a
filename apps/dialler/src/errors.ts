/**
 * Errors raised by voxdialler. Each carries a stable `code`, the ids involved and a
 * `retryable` flag.
 */

export type DiallerErrorCode =
  | 'DIALLER_INVALID_ENV'
  | 'DIALLER_HTTP_FAILED'
  | 'DIALLER_HTTP_STATUS'
  | 'DIALLER_INVALID_RESPONSE'
  | 'DIALLER_ATTACH_REJECTED'
  | 'DIALLER_CARRIER_FAILED'
  | 'DIALLER_STOPPED';

export interface DiallerErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  /** Ids and values that identify what failed, such as `callId` or `url`. */
  details?: Record<string, string | number | boolean | undefined>;
}

export class DiallerError extends Error {
  readonly code: DiallerErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, string | number | boolean | undefined>;

  constructor(code: DiallerErrorCode, message: string, options: DiallerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DiallerError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

/** A request that got no HTTP response: refused, reset or timed out. Always retryable. */
export class HttpRequestError extends DiallerError {
  constructor(url: string, cause: unknown) {
    super('DIALLER_HTTP_FAILED', `request to ${url} failed: ${describe(cause)}`, {
      cause,
      retryable: true,
      details: { url },
    });
    this.name = 'HttpRequestError';
  }
}

/** A response with an unexpected status. Retryable for 5xx and 429. */
export class HttpStatusError extends DiallerError {
  readonly status: number;
  readonly body: string;

  constructor(url: string, status: number, body: string) {
    super('DIALLER_HTTP_STATUS', `request to ${url} failed with HTTP ${status}`, {
      retryable: status >= 500 || status === 429,
      details: { url, status },
    });
    this.name = 'HttpStatusError';
    this.status = status;
    this.body = body;
  }
}

export function isRetryable(err: unknown): boolean {
  return err instanceof DiallerError && err.retryable;
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
    return `${cause.message}${inner}`;
  }
  return String(cause);
}
