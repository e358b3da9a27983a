/**
 * Errors voxbridge raises. Every error carries a stable `code`; the Fastify error handler
 * (`src/http/error-handler.ts`) is the only place that maps a code to an HTTP status.
 */

export type BridgeErrorCode =
  | 'AUTH_MISSING_API_KEY'
  | 'AUTH_INVALID_API_KEY'
  | 'AUTH_MISSING_ADMIN_KEY'
  | 'AUTH_INVALID_ADMIN_KEY'
  | 'AUTH_ADMIN_DISABLED'
  | 'AUTH_MISSING_INTERNAL_TOKEN'
  | 'AUTH_INVALID_INTERNAL_TOKEN'
  | 'VALIDATION_FAILED'
  | 'INVALID_CURSOR'
  | 'ROUTE_NOT_FOUND'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'BODY_TOO_LARGE'
  | 'TENANT_ALREADY_EXISTS'
  | 'BOT_NOT_FOUND'
  | 'CAMPAIGN_NOT_FOUND'
  | 'CAMPAIGN_INVALID_STATE'
  | 'CAMPAIGN_HAS_NO_CONTACTS'
  | 'CALL_NOT_FOUND'
  | 'CALL_NOT_REQUEUEABLE'
  | 'CALL_RESULT_CONFLICT'
  | 'CSV_EMPTY'
  | 'CSV_INVALID'
  | 'CSV_HEADER_INVALID'
  | 'RECORDING_NOT_FOUND'
  | 'RECORDING_INVALID_WAV'
  | 'RECORDING_TOO_LARGE'
  | 'STORE_UNAVAILABLE'
  | 'TOO_MANY_STREAMS'
  | 'INBOUND_KEY_NOT_FOUND'
  | 'INBOUND_SIGNATURE_INVALID'
  | 'INBOUND_INVALID_REQUEST'
  | 'INTERNAL_ERROR';

/** One field-level problem, such as `{ path: 'config.start', message: 'unknown node "x"' }`. */
export interface ErrorDetail {
  path?: string;
  line?: number;
  message: string;
}

export interface BridgeErrorOptions {
  details?: ErrorDetail[];
  cause?: unknown;
  /** Ids of the entities involved, for logs. */
  ids?: Record<string, string>;
}

export class BridgeError extends Error {
  readonly code: BridgeErrorCode;
  readonly details: ErrorDetail[] | undefined;
  readonly ids: Record<string, string>;

  constructor(code: BridgeErrorCode, message: string, options: BridgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BridgeError';
    this.code = code;
    this.details = options.details;
    this.ids = options.ids ?? {};
  }
}

export function isBridgeError(value: unknown): value is BridgeError {
  return value instanceof BridgeError;
}

export function botNotFound(botId: string): BridgeError {
  return new BridgeError('BOT_NOT_FOUND', `bot "${botId}" not found`, { ids: { botId } });
}

export function campaignNotFound(campaignId: string): BridgeError {
  return new BridgeError('CAMPAIGN_NOT_FOUND', `campaign "${campaignId}" not found`, {
    ids: { campaignId },
  });
}

export function callNotFound(callId: string): BridgeError {
  return new BridgeError('CALL_NOT_FOUND', `call "${callId}" not found`, { ids: { callId } });
}

/** Raised by `loadEnv` when a required variable is missing or a variable is invalid. */
export class EnvError extends Error {
  readonly code = 'ENV_INVALID';

  constructor(message: string) {
    super(message);
    this.name = 'EnvError';
  }
}
