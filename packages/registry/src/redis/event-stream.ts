/**
 * Slot events of the Redis backend: one stream per pool (`<prefix>{pool}:events`), written
 * by the pool's scripts. An entry's fields are `type`, `workerId`, `host`, and for an event
 * about a reservation `callId`, `fence`, `tenantId` and `campaignId` (the last two when set). A reader's cursor records the last entry id it read in each pool,
 * as `pool=id` pairs joined by commas. Pool names cannot contain `=` or `,`.
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

/** A stream entry as XRANGE and the scripts return it: an id and a flat field list. */
export type StreamEntry = [id: string, fields: string[]];

export function parseCursor(afterId: string | null): Map<string, string> {
  const cursor = new Map<string, string>();
  if (afterId === null || afterId === '') return cursor;
  for (const part of afterId.split(',')) {
    const match = /^([A-Za-z0-9._:-]{1,64})=(\d+-\d+)$/.exec(part);
    if (match === null || match[1] === undefined || match[2] === undefined) {
      throw new RegistryInvalidArgumentError(
        'afterId',
        `${JSON.stringify(afterId)} is not a cursor of this Redis registry; pass null or a lastId`,
      );
    }
    cursor.set(match[1], match[2]);
  }
  return cursor;
}

export function formatCursor(cursor: Map<string, string>): string {
  const pools = [...cursor.keys()].sort();
  return pools.map((pool) => `${pool}=${cursor.get(pool) ?? ''}`).join(',');
}

/** Orders two stream ids (`<ms>-<seq>`) numerically. */
export function compareEntryIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}

/**
 * Converts a stream entry of the pool's stream. The entry's id is the event's time, as
 * `<ms>-<seq>` of the Redis server's clock.
 */
export function toSlotEvent([id, fields]: StreamEntry, pool: string): SlotEvent {
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (name !== undefined && value !== undefined) values.set(name, value);
  }
  const type = values.get('type') ?? '';
  if (!EVENT_TYPES.has(type)) {
    throw new RegistryInvalidArgumentError('event', `stream entry ${id} has unknown type ${type}`);
  }
  const callId = values.get('callId');
  const fence = values.get('fence');
  const tenantId = values.get('tenantId');
  const campaignId = values.get('campaignId');
  return {
    id,
    type: type as SlotEventType,
    workerId: values.get('workerId') ?? '',
    pool,
    host: values.get('host') ?? '',
    at: Number(id.slice(0, id.indexOf('-'))),
    ...(callId === undefined ? {} : { callId }),
    ...(fence === undefined ? {} : { fence: Number(fence) }),
    ...(tenantId === undefined ? {} : { tenantId }),
    ...(campaignId === undefined ? {} : { campaignId }),
  };
}
