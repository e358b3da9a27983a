/**
 * Slot events of the Redis backend: one stream per pool (`<prefix>{pool}:events`), written
 * by the pool's functions. A stream entry has one field, `events`, whose value is the
 * entry's events separated by U+001E. An event is its type, the worker id and host, and
 * for an event about a reservation the call id, fence, tenant id and campaign id (empty
 * when not set), separated by U+001F. Ids cannot contain either (see `checkId`). An entry
 * contains one event, or all the events of one batch call. An event's id is its entry's
 * id, followed by `.<index>` for an entry's second event and later. A reader's cursor
 * records the id of the last event it read in each pool, as `pool=id` pairs joined by
 * commas. Pool names cannot contain `=` or `,`.
 *
 * Entries of the earlier layout, one field per attribute (`type`, `workerId`, `host`,
 * `callId`, `fence`, `tenantId`, `campaignId`), are read too.
 */
import { RegistryInvalidArgumentError } from '../errors.js';
import type { SlotEvent, SlotEventType } from '../types.js';

const EVENT_TYPES: ReadonlySet<string> = new Set<SlotEventType>([
  'registered',
  'reserved',
  'confirmed',
  'released',
  'reservation-lapsed',
  'drain',
  'undrain',
  'deregistered',
  'expired',
]);

/**
 * Error for a stream entry that does not contain this registry's events, for example one
 * written by hand or by another program. Readers skip such an entry.
 */
export class MalformedStreamEntryError extends Error {
  constructor(entryId: string, reason: string) {
    super(`stream entry ${entryId} is not registry events: ${reason}`);
    this.name = 'MalformedStreamEntryError';
  }
}

/** A stream entry as XRANGE and the scripts return it: an id and a flat field list. */
export type StreamEntry = [id: string, fields: string[]];

/** An event's place in a pool's stream: its entry, and its index among the entry's events. */
export interface StreamPosition {
  entryId: string;
  index: number;
}

export function parseCursor(afterId: string | null): Map<string, StreamPosition> {
  const cursor = new Map<string, StreamPosition>();
  if (afterId === null || afterId === '') return cursor;
  for (const part of afterId.split(',')) {
    const match = /^([A-Za-z0-9._:-]{1,64})=(\d+-\d+)(?:\.(\d+))?$/.exec(part);
    if (match === null || match[1] === undefined || match[2] === undefined) {
      throw new RegistryInvalidArgumentError(
        'afterId',
        `${JSON.stringify(afterId)} is not a cursor of this Redis registry; pass null or a lastId`,
      );
    }
    cursor.set(match[1], { entryId: match[2], index: Number(match[3] ?? 0) });
  }
  return cursor;
}

export function formatCursor(cursor: Map<string, StreamPosition>): string {
  const pools = [...cursor.keys()].sort();
  return pools
    .map((pool) => {
      const position = cursor.get(pool);
      return position === undefined ? '' : `${pool}=${eventId(position)}`;
    })
    .join(',');
}

/** Returns an event's id: its entry's id, followed by `.<index>` after an entry's first event. */
export function eventId({ entryId, index }: StreamPosition): string {
  return index === 0 ? entryId : `${entryId}.${index}`;
}

/** Orders two stream ids (`<ms>-<seq>`) numerically. */
export function compareEntryIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}

export function comparePositions(a: StreamPosition, b: StreamPosition): number {
  return compareEntryIds(a.entryId, b.entryId) || a.index - b.index;
}

/** Separator between the events of an entry. */
const EVENT_SEPARATOR = '\u001e';
/** Separator between the parts of an event. */
const PART_SEPARATOR = '\u001f';

/** Attributes of one event, as read from a stream entry. */
interface EventParts {
  type: string;
  workerId: string;
  host: string;
  callId?: string;
  fence?: string;
  tenantId?: string;
  campaignId?: string;
}

/** Reads the events of an entry with one `events` field (see the module comment). */
function readPackedEvents(entryId: string, value: string): EventParts[] {
  return value.split(EVENT_SEPARATOR).map((event) => {
    const parts = event.split(PART_SEPARATOR);
    if (parts.length !== 3 && parts.length !== 7) {
      throw new MalformedStreamEntryError(
        entryId,
        `an event of ${parts.length} parts; expected 3 or 7`,
      );
    }
    const [type = '', workerId = '', host = '', callId, fence, tenantId, campaignId] = parts;
    return {
      type,
      workerId,
      host,
      ...(callId === undefined ? {} : { callId, fence }),
      ...(tenantId === undefined || tenantId === '' ? {} : { tenantId }),
      ...(campaignId === undefined || campaignId === '' ? {} : { campaignId }),
    };
  });
}

/** Reads an entry of the earlier layout: one field per attribute, each event from `type`. */
function readFieldEvents(fields: string[]): EventParts[] {
  const groups: Map<string, string>[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (name === undefined || value === undefined) continue;
    if (name === 'type' || groups.length === 0) groups.push(new Map());
    groups.at(-1)?.set(name, value);
  }
  return groups.map((values) => {
    const optional = ['callId', 'fence', 'tenantId', 'campaignId'] as const;
    const event: EventParts = {
      type: values.get('type') ?? '',
      workerId: values.get('workerId') ?? '',
      host: values.get('host') ?? '',
    };
    for (const name of optional) {
      const value = values.get(name);
      if (value !== undefined) event[name] = value;
    }
    return event;
  });
}

/**
 * Converts a stream entry of the pool's stream to its events, in order. The entry's id is
 * the events' time, as `<ms>-<seq>` of the Redis server's clock.
 */
export function toSlotEvents([entryId, fields]: StreamEntry, pool: string): SlotEvent[] {
  let parts: EventParts[];
  if (fields.length === 2 && fields[0] === 'events') {
    parts = readPackedEvents(entryId, fields[1] ?? '');
  } else if (fields[0] === 'type') {
    parts = readFieldEvents(fields);
  } else {
    const names = fields.filter((_, index) => index % 2 === 0).slice(0, 4);
    throw new MalformedStreamEntryError(
      entryId,
      `fields ${JSON.stringify(names)}; expected the one field "events"`,
    );
  }
  const at = Number(entryId.slice(0, entryId.indexOf('-')));
  return parts.map(({ type, workerId, host, callId, fence, tenantId, campaignId }, index) => {
    if (!EVENT_TYPES.has(type)) {
      throw new MalformedStreamEntryError(entryId, `unknown event type ${JSON.stringify(type)}`);
    }
    const missingWorker = workerId === '';
    const badReservation =
      callId !== undefined && (callId === '' || !/^\d{1,16}$/.test(fence ?? ''));
    if (missingWorker || badReservation) {
      throw new MalformedStreamEntryError(
        entryId,
        `a ${type} event without a worker id, call id or numeric fence`,
      );
    }
    return {
      id: eventId({ entryId, index }),
      type: type as SlotEventType,
      workerId,
      pool,
      host,
      at,
      ...(callId === undefined ? {} : { callId }),
      ...(fence === undefined ? {} : { fence: Number(fence) }),
      ...(tenantId === undefined ? {} : { tenantId }),
      ...(campaignId === undefined ? {} : { campaignId }),
    };
  });
}
