/**
 * Errors of the capacity registry. Every error carries a stable `code` and a `retryable`
 * flag; callers map codes to HTTP statuses at their own edge.
 */

export type RegistryErrorCode =
  | 'REGISTRY_UNAVAILABLE'
  | 'REGISTRY_INVALID_URL'
  | 'REGISTRY_INVALID_ARGUMENT'
  | 'REGISTRY_QUOTA_EXCEEDED'
  | 'REGISTRY_CLOSED';

export interface RegistryErrorOptions {
  cause?: unknown;
  retryable?: boolean;
}

export class RegistryError extends Error {
  readonly code: RegistryErrorCode;
  /** True when the same call may succeed if repeated later. */
  readonly retryable: boolean;

  constructor(code: RegistryErrorCode, message: string, options: RegistryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** The store (SQLite file or Redis server) could not be reached or was busy for too long. */
export class RegistryUnavailableError extends RegistryError {
  constructor(message: string, options: RegistryErrorOptions = {}) {
    super('REGISTRY_UNAVAILABLE', message, { retryable: true, ...options });
  }
}

export class RegistryInvalidUrlError extends RegistryError {
  readonly url: string;

  constructor(url: string, reason: string) {
    super(
      'REGISTRY_INVALID_URL',
      `invalid registry URL ${JSON.stringify(redactPassword(url))}: ${reason}; ` +
        'expected sqlite:<path>, redis://host:port[/db], ' +
        'redis-sentinel://host:port[,host:port...]/<masterName>[/db] ' +
        'or redis-cluster://host:port[,host:port...] (rediss in place of redis for TLS)',
    );
    this.url = url;
  }
}

/** Replaces the passwords of a URL (user info, `sentinelPassword`), so it can be logged. */
function redactPassword(url: string): string {
  return url
    .replace(/^([a-z-]+:\/\/[^:@/]*:)[^@/]*@/, '$1***@')
    .replace(/([?&]sentinelPassword=)[^&]*/, '$1***');
}

export class RegistryInvalidArgumentError extends RegistryError {
  readonly field: string;

  constructor(field: string, reason: string) {
    super('REGISTRY_INVALID_ARGUMENT', `invalid ${field}: ${reason}`);
    this.field = field;
  }
}

/** A reservation would exceed a tenant or campaign limit; retry once a call of it ends. */
export class RegistryQuotaExceededError extends RegistryError {
  readonly scope: 'tenant' | 'campaign';
  readonly id: string;
  readonly limit: number;

  constructor(scope: 'tenant' | 'campaign', id: string, limit: number) {
    super(
      'REGISTRY_QUOTA_EXCEEDED',
      `${scope} ${id} already holds ${limit} reservations, its limit in this pool`,
      { retryable: true },
    );
    this.scope = scope;
    this.id = id;
    this.limit = limit;
  }
}

export class RegistryClosedError extends RegistryError {
  constructor() {
    super('REGISTRY_CLOSED', 'registry is closed; open a new one');
  }
}
