/**
 * Errors of the sim carrier. Each carries a stable `code`; the HTTP API maps codes to
 * statuses at its edge (see `http-api.ts`).
 */

export type CarrierSimErrorCode =
  | 'CARRIER_SIM_INVALID_REQUEST'
  | 'CARRIER_SIM_CALL_NOT_FOUND'
  | 'CARRIER_SIM_CALL_ACTIVE'
  | 'CARRIER_SIM_STOPPING'
  | 'CARRIER_SIM_AUDIO_INVALID'
  | 'CARRIER_SIM_STREAM_CONNECT_FAILED'
  | 'CARRIER_SIM_INVALID_ENV'
  | 'CARRIER_SIM_INVALID_OPTIONS'
  | 'CARRIER_SIM_STOPPED'
  | 'CARRIER_SIM_WEBHOOK_FAILED';

export interface CarrierSimErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  callId?: string;
  carrierCallId?: string;
  /** Validation issues, one line each, for `CARRIER_SIM_INVALID_REQUEST`. */
  issues?: string[];
}

export class CarrierSimError extends Error {
  readonly code: CarrierSimErrorCode;
  readonly retryable: boolean;
  readonly callId: string | undefined;
  readonly carrierCallId: string | undefined;
  readonly issues: string[];

  constructor(code: CarrierSimErrorCode, message: string, options: CarrierSimErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CarrierSimError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.callId = options.callId;
    this.carrierCallId = options.carrierCallId;
    this.issues = options.issues ?? [];
  }
}
