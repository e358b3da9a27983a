/**
 * Input checks shared by both backends, so that both reject the same requests with the
 * same `RegistryInvalidArgumentError`.
 */
import { randomBytes } from 'node:crypto';
import { RegistryInvalidArgumentError } from './errors.js';
import type {
  ActiveReservation,
  DrainFilter,
  ReserveRequest,
  WorkerRegistration,
} from './types.js';

/** Pool names become part of a Redis hash tag, so braces are not allowed. */
const POOL_NAME = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_ID_LENGTH = 256;
/** One year; longer durations are almost certainly a unit mistake (seconds for ms). */
const MAX_DURATION_MS = 365 * 24 * 3600 * 1000;

export function checkPool(pool: string): void {
  if (!POOL_NAME.test(pool)) {
    throw new RegistryInvalidArgumentError(
      'pool',
      `${JSON.stringify(pool)} must be 1-64 characters of letters, digits, '.', '_', ':' or '-'`,
    );
  }
}

/** ASCII control characters. The Redis backend separates events and their parts with U+001E and U+001F. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * A UTF-16 surrogate without its pair. Redis stores such an id as U+FFFD in UTF-8, so two
 * ids could become one worker, and SQLite returns it changed.
 */
const LONE_SURROGATE = /\p{Cs}/u;

export function checkId(field: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new RegistryInvalidArgumentError(field, `must be 1-${MAX_ID_LENGTH} characters`);
  }
  if (LONE_SURROGATE.test(value)) {
    throw new RegistryInvalidArgumentError(
      field,
      `${JSON.stringify(value)} contains a lone UTF-16 surrogate; ids must be valid Unicode`,
    );
  }
  if (CONTROL_CHARACTER.test(value)) {
    throw new RegistryInvalidArgumentError(
      field,
      `${JSON.stringify(value)} contains a control character (U+0000-U+001F or U+007F)`,
    );
  }
}

export function checkDuration(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > MAX_DURATION_MS) {
    throw new RegistryInvalidArgumentError(
      field,
      `${value} must be a whole number of milliseconds between 1 and ${MAX_DURATION_MS}`,
    );
  }
}

/** Most labels a worker or a reserve request may carry. */
export const MAX_LABELS = 64;

function checkLabels(field: string, labels: Record<string, string>): void {
  const count = Object.keys(labels).length;
  if (count > MAX_LABELS) {
    throw new RegistryInvalidArgumentError(
      field,
      `has ${count} labels; at most ${MAX_LABELS} are allowed`,
    );
  }
  for (const [key, value] of Object.entries(labels)) {
    if (typeof value !== 'string') {
      throw new RegistryInvalidArgumentError(`${field}.${key}`, 'must be a string');
    }
  }
}

export function checkRegistration(worker: WorkerRegistration): void {
  checkId('workerId', worker.workerId);
  checkId('url', worker.url);
  checkId('host', worker.host);
  checkPool(worker.pool);
  checkLabels('labels', worker.labels);
  checkDuration('ttlMs', worker.ttlMs);
  if (worker.activeReservation !== undefined) checkActiveReservation(worker.activeReservation);
}

export function checkActiveReservation(active: ActiveReservation): void {
  checkId('activeReservation.token', active.token);
  checkId('activeReservation.callId', active.callId);
  if (active.tenantId !== undefined) checkId('activeReservation.tenantId', active.tenantId);
  if (active.campaignId !== undefined) checkId('activeReservation.campaignId', active.campaignId);
  if (!Number.isSafeInteger(active.fence) || active.fence < 1) {
    throw new RegistryInvalidArgumentError(
      'activeReservation.fence',
      `${active.fence} must be a positive whole number`,
    );
  }
}

export function checkReserveRequest(request: ReserveRequest): void {
  checkPool(request.pool);
  checkId('callId', request.callId);
  if (request.tenantId !== undefined) checkId('tenantId', request.tenantId);
  if (request.campaignId !== undefined) checkId('campaignId', request.campaignId);
  checkDuration('reservationTtlMs', request.reservationTtlMs);
  if (request.labels !== undefined) checkLabels('labels', request.labels);
  for (const scope of ['tenant', 'campaign'] as const) {
    const quota = request.quotas?.[scope];
    if (quota === undefined) continue;
    checkId(`quotas.${scope}.id`, quota.id);
    if (!Number.isInteger(quota.limit) || quota.limit < 0) {
      throw new RegistryInvalidArgumentError(
        `quotas.${scope}.limit`,
        `${quota.limit} must be a whole number of 0 or more`,
      );
    }
  }
}

/** Tenant and campaign ids a reservation records, the quota's id taking precedence. */
export function quotaIds(request: ReserveRequest): {
  tenantId: string | null;
  campaignId: string | null;
} {
  return {
    tenantId: request.quotas?.tenant?.id ?? request.tenantId ?? null,
    campaignId: request.quotas?.campaign?.id ?? request.campaignId ?? null,
  };
}

/** 128 random bits, URL-safe, so the token can travel in a query string. */
export function createToken(): string {
  return randomBytes(16).toString('base64url');
}

export function labelsMatch(
  labels: Record<string, string>,
  required: Record<string, string> | undefined,
): boolean {
  if (required === undefined) return true;
  return Object.entries(required).every(([key, value]) => labels[key] === value);
}

/** Rejects an empty filter, so a missing field never drains the whole fleet by accident. */
export function checkDrainFilter(filter: DrainFilter): void {
  if (filter.pool === undefined && filter.host === undefined && filter.workerId === undefined) {
    throw new RegistryInvalidArgumentError(
      'filter',
      'must name at least one of pool, host or workerId',
    );
  }
  if (filter.pool !== undefined) checkPool(filter.pool);
  if (filter.host !== undefined) checkId('filter.host', filter.host);
  if (filter.workerId !== undefined) checkId('filter.workerId', filter.workerId);
}

export const MAX_EVENT_PAGE = 10_000;

export function checkEventLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENT_PAGE) {
    throw new RegistryInvalidArgumentError(
      'limit',
      `${limit} must be a whole number between 1 and ${MAX_EVENT_PAGE}`,
    );
  }
}
