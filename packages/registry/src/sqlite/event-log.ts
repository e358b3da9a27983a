/**
 * The slot event log of the SQLite backend: rows of `registry_events`, appended inside the
 * same transaction as the change they describe and pruned to the newest `retention` rows.
 */
import type { SqliteStatement } from '@voxfleet/sqlite';
import { RegistryInvalidArgumentError } from '../errors.js';
import type { SlotEvent, SlotEventPage, SlotEventType } from '../types.js';
import type { EventRow, WorkerRow } from './schema.js';

/** Prune once every this many appended events, so pruning costs little per write. */
const PRUNE_EVERY = 100;

type Prepare = (sql: string) => SqliteStatement;

export class SqliteEventLog {
  private readonly prepare: Prepare;
  private readonly retention: number;

  constructor(prepare: Prepare, retention: number) {
    this.prepare = prepare;
    this.retention = retention;
  }

  /**
   * Appends one event about `row`. With `withReservation`, the row's reservation (if any)
   * goes into the event. Call only inside a write transaction.
   */
  append(type: SlotEventType, row: WorkerRow, at: number, withReservation: boolean): SlotEvent {
    const res = withReservation && row.token !== null ? row : null;
    const inserted = this.prepare(
      `INSERT INTO registry_events (type, worker_id, pool, host, at, call_id, fence, tenant_id,
         campaign_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ).get(
      type,
      row.worker_id,
      row.pool,
      row.host,
      at,
      res?.call_id ?? null,
      res?.fence ?? null,
      res?.tenant_id ?? null,
      res?.campaign_id ?? null,
    ) as { id: number };
    if (inserted.id % PRUNE_EVERY === 0) {
      this.prepare('DELETE FROM registry_events WHERE id <= ?').run(inserted.id - this.retention);
    }
    return toSlotEvent({
      id: inserted.id,
      type,
      worker_id: row.worker_id,
      pool: row.pool,
      host: row.host,
      at,
      call_id: res?.call_id ?? null,
      fence: res?.fence ?? null,
      tenant_id: res?.tenant_id ?? null,
      campaign_id: res?.campaign_id ?? null,
    });
  }

  read(afterId: string | null, limit: number): SlotEventPage {
    const after = parseCursor(afterId);
    const rows = this.prepare('SELECT * FROM registry_events WHERE id > ? ORDER BY id LIMIT ?').all(
      after,
      limit,
    ) as EventRow[];
    const last = rows.at(-1);
    return {
      events: rows.map(toSlotEvent),
      lastId: String(last === undefined ? after : last.id),
    };
  }
}

function parseCursor(afterId: string | null): number {
  if (afterId === null || afterId === '') return 0;
  if (!/^\d{1,15}$/.test(afterId)) {
    throw new RegistryInvalidArgumentError(
      'afterId',
      `${JSON.stringify(afterId)} is not a cursor of this SQLite registry; pass null or a lastId`,
    );
  }
  return Number(afterId);
}

function toSlotEvent(row: EventRow): SlotEvent {
  return {
    id: String(row.id),
    type: row.type as SlotEventType,
    workerId: row.worker_id,
    pool: row.pool,
    host: row.host,
    at: row.at,
    ...(row.call_id === null ? {} : { callId: row.call_id }),
    ...(row.fence === null ? {} : { fence: row.fence }),
    ...(row.tenant_id === null ? {} : { tenantId: row.tenant_id }),
    ...(row.campaign_id === null ? {} : { campaignId: row.campaign_id }),
  };
}
