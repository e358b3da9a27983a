/**
 * Validation of the `POST /attach` and `POST /attach/{callId}/cancel` bodies, with the rules
 * of `AttachRequest` and `AttachCancelRequest` in `@voxfleet/schema`: the same fields, limits,
 * default and rejection of unknown fields. They are written out by hand because loading zod
 * and the shared schemas would cost an idle worker more than 10 MiB of resident memory
 * (docs/benchmarks.md, "Worker"). `test/attach-body.test.ts` checks both against the shared
 * schemas.
 */
import type { AttachMedia, AttachCancelRequest, AttachRequest } from '@voxfleet/schema';

export type BodyCheck<T> = { ok: true; value: T } | { ok: false; message: string };

const E164 = /^\+[1-9][0-9]{6,14}$/;
/** RFC 3339 UTC time with seconds, as `z.iso.datetime()` accepts it: no offset other than Z. */
const UTC_DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z$/;

const ATTACH_FIELDS = new Set([
  'reservationToken',
  'callId',
  'botId',
  'tenantId',
  'campaignId',
  'contactId',
  'to',
  'streamTimeoutMs',
  'reservedAt',
  'media',
]);

/** Collects `path: problem` lines, one per invalid field, for the error message. */
class Issues {
  readonly lines: string[] = [];

  add(path: string, problem: string): void {
    this.lines.push(`✖ ${problem}\n  → at ${path}`);
  }

  /** A string of `min..max` characters; records an issue and returns undefined otherwise. */
  string(record: Record<string, unknown>, key: string, min: number, max: number, path = key) {
    const value = record[key];
    if (typeof value !== 'string') {
      this.add(path, `expected string, received ${describe(value)}`);
      return undefined;
    }
    const length = codePointLength(value);
    if (length < min) this.add(path, `must have at least ${min} character(s)`);
    else if (length > max) this.add(path, `must have at most ${max} characters`);
    else return value;
    return undefined;
  }

  nullableString(record: Record<string, unknown>, key: string, max: number): string | null {
    return record[key] === null ? null : (this.string(record, key, 1, max) ?? null);
  }

  unknownKeys(record: Record<string, unknown>, known: ReadonlySet<string>, prefix = ''): void {
    for (const key of Object.keys(record)) {
      if (!known.has(key)) this.add(`${prefix}${key}`, `unrecognized key: "${key}"`);
    }
  }

  result<T>(value: T): BodyCheck<T> {
    return this.lines.length === 0
      ? { ok: true, value }
      : { ok: false, message: this.lines.join('\n') };
  }
}

/** Checks an attach body; applies the default `streamTimeoutMs` of 60 000. */
export function checkAttachRequest(body: unknown): BodyCheck<AttachRequest> {
  const issues = new Issues();
  if (!isRecord(body)) return { ok: false, message: `expected object, received ${describe(body)}` };
  issues.unknownKeys(body, ATTACH_FIELDS);
  const reservationToken = issues.string(body, 'reservationToken', 1, 256);
  const callId = issues.string(body, 'callId', 1, 128);
  const botId = issues.string(body, 'botId', 1, 128);
  const tenantId = issues.string(body, 'tenantId', 1, 128);
  const campaignId = issues.nullableString(body, 'campaignId', 128);
  const contactId = issues.nullableString(body, 'contactId', 128);
  const to = issues.string(body, 'to', 0, Infinity);
  if (to !== undefined && !E164.test(to)) {
    issues.add('to', 'must be an E.164 number such as +919800000001');
  }

  let streamTimeoutMs = 60_000;
  const timeout = body['streamTimeoutMs'];
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || !Number.isInteger(timeout)) {
      issues.add('streamTimeoutMs', `expected int, received ${describe(timeout)}`);
    } else if (timeout < 1_000 || timeout > 300_000) {
      issues.add('streamTimeoutMs', 'must be between 1000 and 300000');
    } else {
      streamTimeoutMs = timeout;
    }
  }

  const reservedAt = body['reservedAt'];
  if (reservedAt !== undefined && !isUtcDatetime(reservedAt)) {
    issues.add('reservedAt', 'must be an ISO 8601 date and time in UTC');
  }
  const media = checkMedia(body['media'], issues);

  return issues.result({
    reservationToken: reservationToken ?? '',
    callId: callId ?? '',
    botId: botId ?? '',
    tenantId: tenantId ?? '',
    campaignId,
    contactId,
    to: to ?? '',
    streamTimeoutMs,
    ...(typeof reservedAt === 'string' ? { reservedAt } : {}),
    ...(media === undefined ? {} : { media }),
  });
}

/** Checks the body of `POST /attach/{callId}/cancel`. */
export function checkAttachCancelRequest(body: unknown): BodyCheck<AttachCancelRequest> {
  const issues = new Issues();
  if (!isRecord(body)) return { ok: false, message: `expected object, received ${describe(body)}` };
  issues.unknownKeys(body, new Set(['reservationToken', 'reason']));
  const reservationToken = issues.string(body, 'reservationToken', 1, 256);
  const reason = issues.string(body, 'reason', 1, 64);
  return issues.result({ reservationToken: reservationToken ?? '', reason: reason ?? '' });
}

function checkMedia(media: unknown, issues: Issues): AttachMedia | undefined {
  if (media === undefined) return undefined;
  if (!isRecord(media)) {
    issues.add('media', `expected object, received ${describe(media)}`);
    return undefined;
  }
  if (media['kind'] === 'websocket') {
    issues.unknownKeys(media, new Set(['kind']), 'media.');
    return { kind: 'websocket' };
  }
  if (media['kind'] === 'livekit') {
    issues.unknownKeys(media, new Set(['kind', 'room']), 'media.');
    const room = issues.string(media, 'room', 1, 128, 'media.room');
    return room === undefined ? undefined : { kind: 'livekit', room };
  }
  issues.add('media.kind', 'expected "websocket" or "livekit"');
  return undefined;
}

function isUtcDatetime(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const match = UTC_DATETIME.exec(value);
  if (match === null) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  return day <= days;
}

/** Length in code points, as zod 4 counts it for `min` and `max`: an emoji counts once. */
function codePointLength(value: string): number {
  // The string iterator yields code points; bodies are at most 16 KiB, so the copy is small.
  return [...value].length;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
