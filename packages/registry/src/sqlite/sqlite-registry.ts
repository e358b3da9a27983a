/**
 * The SQLite backend: the embedded default, shared by the processes of one host through
 * one database file. The file runs in WAL mode, and every mutation is one `BEGIN IMMEDIATE`
 * transaction, so two processes never reserve the same slot. Expiry uses one clock, the
 * host's (`now`), which every process sharing the file also reads.
 *
 * @example
 * const registry = SqliteRegistry.open({ path: '.voxfleet/registry.db' });
 * const reservation = await registry.reserve({ pool: 'default', callId, reservationTtlMs: 10_000 });
 */
import { openDatabase, type SqliteDatabase, type SqliteStatement } from '@voxfleet/sqlite';
import {
  RegistryClosedError,
  RegistryError,
  RegistryQuotaExceededError,
  RegistryUnavailableError,
} from '../errors.js';
import { toSlotView, type StoredWorker } from '../slot-view.js';
import type {
  ActiveReservation,
  CapacityRegistry,
  ConfirmResult,
  DrainFilter,
  Reservation,
  ReserveRequest,
  SlotEvent,
  SlotEventPage,
  SlotView,
  WorkerRegistration,
} from '../types.js';
import {
  checkActiveReservation,
  checkDrainFilter,
  checkDuration,
  checkEventLimit,
  checkId,
  checkPool,
  checkRegistration,
  checkReserveRequest,
  createToken,
  labelsMatch,
  quotaIds,
} from '../validate.js';
import { SqliteEventLog } from './event-log.js';
import { ADDED_COLUMNS, LIVE_RESERVATION, SCHEMA, type WorkerRow } from './schema.js';

export interface SqliteRegistryOptions {
  /** Database file, or `:memory:` for a store private to this process. */
  path: string;
  /**
   * The store's clock for every expiry, deadline and event time, in epoch milliseconds.
   * Defaults to `Date.now`, the host clock that every process sharing the file reads.
   */
  now?: () => number;
  /** How long a transaction waits for another process's write lock. Defaults to 5000. */
  busyTimeoutMs?: number;
  /** How many of the newest slot events the file keeps. Defaults to 10,000. */
  eventRetention?: number;
}

const CLEAR_RESERVATION = `token = NULL, fence = NULL, call_id = NULL, tenant_id = NULL,
  campaign_id = NULL, deadline = NULL, confirmed = 0, lapsed = 0`;

export class SqliteRegistry implements CapacityRegistry {
  private readonly db: SqliteDatabase;
  private readonly now: () => number;
  private readonly statements = new Map<string, SqliteStatement>();
  private readonly events: SqliteEventLog;
  private closed = false;

  private constructor(db: SqliteDatabase, now: () => number, eventRetention: number) {
    this.db = db;
    this.now = now;
    this.events = new SqliteEventLog((sql) => this.statement(sql), eventRetention);
  }

  /** Opens (and creates when missing) the database file and its tables. */
  static open(options: SqliteRegistryOptions): SqliteRegistry {
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    let db: SqliteDatabase | undefined;
    try {
      db = openDatabase({ path: options.path, busyTimeoutMs });
      db.pragma('journal_mode = WAL');
      // NORMAL is durable across process crashes in WAL mode; only a power loss can drop
      // the last transactions, which workers re-assert on their next heartbeat.
      db.pragma('synchronous = NORMAL');
      const opened = db;
      opened.transaction(() => createSchema(opened), { behavior: 'immediate' });
    } catch (err) {
      db?.close();
      throw new RegistryUnavailableError(`cannot open SQLite registry at ${options.path}`, {
        cause: err,
      });
    }
    return new SqliteRegistry(db, options.now ?? Date.now, options.eventRetention ?? 10_000);
  }

  async register(worker: WorkerRegistration): Promise<void> {
    checkRegistration(worker);
    return this.write((now) => {
      const existing = this.row(worker.workerId);
      const labels = JSON.stringify(worker.labels);
      const expiresAt = now + worker.ttlMs;

      if (existing !== undefined && existing.expires_at > now) {
        // A live worker re-asserting itself keeps its reservation and drain flag.
        this.statement(
          `UPDATE registry_workers SET url = ?, host = ?, pool = ?, labels = ?, expires_at = ?
             WHERE worker_id = ?`,
        ).run(worker.url, worker.host, worker.pool, labels, expiresAt, worker.workerId);
        this.appendEvent('registered', worker.workerId, now);
        return;
      }

      // A new worker, or one that expired: whatever it held before is gone, and only the
      // call it re-asserts comes back, as confirmed.
      const active = worker.activeReservation;
      this.statement('DELETE FROM registry_workers WHERE worker_id = ?').run(worker.workerId);
      this.statement(
        `INSERT INTO registry_workers (worker_id, url, host, pool, labels, expires_at, token,
           fence, call_id, tenant_id, campaign_id, deadline, confirmed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        worker.workerId,
        worker.url,
        worker.host,
        worker.pool,
        labels,
        expiresAt,
        active?.token ?? null,
        active?.fence ?? null,
        active?.callId ?? null,
        active?.tenantId ?? null,
        active?.campaignId ?? null,
        active === undefined ? null : now,
        active === undefined ? 0 : 1,
      );
      if (active !== undefined) {
        this.statement(
          "UPDATE registry_counters SET value = max(value, ?) WHERE name = 'fence'",
        ).run(active.fence);
      }
      this.appendEvent('registered', worker.workerId, now);
    });
  }

  async heartbeat(
    workerId: string,
    ttlMs: number,
    activeReservation?: ActiveReservation,
    releasedToken?: string,
  ): Promise<boolean> {
    checkId('workerId', workerId);
    checkDuration('ttlMs', ttlMs);
    if (activeReservation !== undefined) checkActiveReservation(activeReservation);
    if (releasedToken !== undefined) checkId('releasedToken', releasedToken);
    return this.write((now) => {
      const result = this.statement(
        'UPDATE registry_workers SET expires_at = ? WHERE worker_id = ? AND expires_at > ?',
      ).run(now + ttlMs, workerId, now);
      if (result.changes !== 1) return false;
      if (activeReservation !== undefined) this.reassert(workerId, activeReservation, now);
      else if (releasedToken !== undefined) this.releaseHolding(workerId, releasedToken, now);
      return true;
    });
  }

  async deregister(workerId: string): Promise<void> {
    checkId('workerId', workerId);
    return this.write((now) => {
      const row = this.row(workerId);
      if (row === undefined) return;
      this.events.append('deregistered', row, now, isRowHolding(row, now));
      this.statement('DELETE FROM registry_workers WHERE worker_id = ?').run(workerId);
    });
  }

  async reserve(request: ReserveRequest): Promise<Reservation | null> {
    checkReserveRequest(request);
    return this.write((now) => {
      const { tenantId, campaignId } = quotaIds(request);
      this.checkQuota('tenant', 'tenant_id', request.pool, request.quotas?.tenant, now);
      this.checkQuota('campaign', 'campaign_id', request.pool, request.quotas?.campaign, now);

      const candidates = this.statement(
        `SELECT * FROM registry_workers
           WHERE pool = :pool AND expires_at > :now AND draining = 0
             AND NOT (${LIVE_RESERVATION})
           ORDER BY worker_id`,
      ).all({ pool: request.pool, now }) as WorkerRow[];
      const chosen = candidates.find((row) => labelsMatch(parseLabels(row.labels), request.labels));
      if (chosen === undefined) return null;

      const fenceRow = this.statement(
        "UPDATE registry_counters SET value = value + 1 WHERE name = 'fence' RETURNING value",
      ).get() as { value: number };
      const token = createToken();
      const deadline = now + request.reservationTtlMs;
      this.statement(
        `UPDATE registry_workers SET token = ?, fence = ?, call_id = ?, tenant_id = ?,
             campaign_id = ?, deadline = ?, confirmed = 0, lapsed = 0
           WHERE worker_id = ?`,
      ).run(
        token,
        fenceRow.value,
        request.callId,
        tenantId,
        campaignId,
        deadline,
        chosen.worker_id,
      );
      this.appendEvent('reserved', chosen.worker_id, now);

      return {
        workerId: chosen.worker_id,
        url: chosen.url,
        token,
        fence: fenceRow.value,
        callId: request.callId,
        deadline,
      };
    });
  }

  async confirm(workerId: string, token: string): Promise<ConfirmResult> {
    checkId('workerId', workerId);
    return this.write((now): ConfirmResult => {
      const row = this.row(workerId);
      if (row === undefined || row.expires_at <= now) return 'unknown-worker';
      if (row.token === null || row.token !== token) return 'token-mismatch';
      if (row.confirmed === 1) return 'confirmed';
      if (row.deadline === null || row.deadline <= now) return 'expired';
      this.statement('UPDATE registry_workers SET confirmed = 1 WHERE worker_id = ?').run(workerId);
      this.appendEvent('confirmed', workerId, now);
      return 'confirmed';
    });
  }

  async release(workerId: string, token: string): Promise<boolean> {
    checkId('workerId', workerId);
    return this.write((now) => this.releaseHolding(workerId, token, now));
  }

  async setDraining(workerId: string, draining: boolean): Promise<boolean> {
    checkId('workerId', workerId);
    return this.write((now) => {
      const row = this.row(workerId);
      if (row === undefined || row.expires_at <= now) return false;
      this.changeDrain([row], draining, now);
      return true;
    });
  }

  async setDrainingWhere(filter: DrainFilter, draining: boolean): Promise<number> {
    checkDrainFilter(filter);
    return this.write((now) => {
      const rows = this.statement(
        `SELECT * FROM registry_workers
           WHERE expires_at > :now AND (:pool IS NULL OR pool = :pool)
             AND (:host IS NULL OR host = :host) AND (:workerId IS NULL OR worker_id = :workerId)`,
      ).all({
        now,
        pool: filter.pool ?? null,
        host: filter.host ?? null,
        workerId: filter.workerId ?? null,
      }) as WorkerRow[];
      return this.changeDrain(rows, draining, now);
    });
  }

  async list(pool?: string): Promise<SlotView[]> {
    if (pool !== undefined) checkPool(pool);
    // A write, because listing also sweeps expired workers and lapsed reservations.
    return this.write((now) => {
      const rows = this.statement(
        `SELECT * FROM registry_workers
           WHERE expires_at > :now AND (:pool IS NULL OR pool = :pool)
           ORDER BY pool, worker_id`,
      ).all({ now, pool: pool ?? null }) as WorkerRow[];
      return rows.map((row) => toSlotView(toStoredWorker(row), now));
    });
  }

  async readEvents(afterId: string | null, limit: number): Promise<SlotEventPage> {
    checkEventLimit(limit);
    return this.read(() => this.events.read(afterId, limit));
  }

  async reap(): Promise<SlotEvent[]> {
    return this.writeWithSweep((_now, swept) => swept);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.db.close();
    }
    return Promise.resolve();
  }

  /** Prepares each SQL text once, because prepared statements are reusable. */
  private statement(sql: string): SqliteStatement {
    let prepared = this.statements.get(sql);
    if (prepared === undefined) {
      prepared = this.db.prepare(sql);
      this.statements.set(sql, prepared);
    }
    return prepared;
  }

  private row(workerId: string): WorkerRow | undefined {
    return this.statement('SELECT * FROM registry_workers WHERE worker_id = ?').get(workerId) as
      WorkerRow | undefined;
  }

  private checkQuota(
    scope: 'tenant' | 'campaign',
    column: 'tenant_id' | 'campaign_id',
    pool: string,
    quota: { id: string; limit: number } | undefined,
    now: number,
  ): void {
    if (quota === undefined) return;
    const { count } = this.statement(
      `SELECT COUNT(*) AS count FROM registry_workers
         WHERE pool = :pool AND ${column} = :id AND expires_at > :now AND ${LIVE_RESERVATION}`,
    ).get({ pool, id: quota.id, now }) as { count: number };
    if (count >= quota.limit) throw new RegistryQuotaExceededError(scope, quota.id, quota.limit);
  }

  /**
   * Clears the worker's reservation when it carries `token`, even when it already lapsed,
   * and returns true only when it still held the slot.
   */
  private releaseHolding(workerId: string, token: string, now: number): boolean {
    const row = this.row(workerId);
    if (row === undefined || row.token === null || row.token !== token) return false;
    const wasHolding = row.expires_at > now && isRowHolding(row, now);
    if (wasHolding) this.events.append('released', row, now, true);
    this.statement(`UPDATE registry_workers SET ${CLEAR_RESERVATION} WHERE worker_id = ?`).run(
      workerId,
    );
    return wasHolding;
  }

  /** Makes the worker busy with `active` unless it already holds that token. */
  private reassert(workerId: string, active: ActiveReservation, now: number): void {
    const row = this.row(workerId);
    if (row === undefined) return;
    if (row.token === active.token && row.confirmed === 1) return;
    this.statement(
      `UPDATE registry_workers SET token = ?, fence = ?, call_id = ?, tenant_id = ?,
         campaign_id = ?, deadline = ?, confirmed = 1, lapsed = 0
       WHERE worker_id = ?`,
    ).run(
      active.token,
      active.fence,
      active.callId,
      active.tenantId ?? null,
      active.campaignId ?? null,
      now,
      workerId,
    );
    this.statement("UPDATE registry_counters SET value = max(value, ?) WHERE name = 'fence'").run(
      active.fence,
    );
    this.appendEvent('confirmed', workerId, now);
  }

  /** Flips the drain flag of the rows whose flag differs and appends an event for each. */
  private changeDrain(rows: WorkerRow[], draining: boolean, now: number): number {
    const flag = draining ? 1 : 0;
    const changed = rows.filter((row) => row.draining !== flag);
    for (const row of changed) {
      this.statement('UPDATE registry_workers SET draining = ? WHERE worker_id = ?').run(
        flag,
        row.worker_id,
      );
      this.events.append(draining ? 'drain' : 'undrain', row, now, false);
    }
    return changed.length;
  }

  /** Appends an event about the worker's current row, with its reservation if it holds one. */
  private appendEvent(type: SlotEvent['type'], workerId: string, now: number): void {
    const row = this.row(workerId);
    if (row !== undefined) this.events.append(type, row, now, isRowHolding(row, now));
  }

  /**
   * Lapses the reservations past their deadline and deletes the workers past their TTL,
   * appending a `reservation-lapsed` or `expired` event for each. Runs first in every
   * write, so nothing after it sees an expired worker or a lapse not yet reported.
   */
  private sweep(now: number): SlotEvent[] {
    const swept: SlotEvent[] = [];
    const lapsed = this.statement(
      `SELECT * FROM registry_workers
         WHERE token IS NOT NULL AND confirmed = 0 AND lapsed = 0 AND deadline <= ?
         ORDER BY deadline, worker_id`,
    ).all(now) as WorkerRow[];
    for (const row of lapsed) {
      swept.push(this.events.append('reservation-lapsed', row, now, true));
      this.statement('UPDATE registry_workers SET lapsed = 1 WHERE worker_id = ?').run(
        row.worker_id,
      );
    }
    const expired = this.statement(
      'SELECT * FROM registry_workers WHERE expires_at <= ? ORDER BY expires_at, worker_id',
    ).all(now) as WorkerRow[];
    for (const row of expired) {
      swept.push(this.events.append('expired', row, now, isRowHolding(row, now)));
      this.statement('DELETE FROM registry_workers WHERE worker_id = ?').run(row.worker_id);
    }
    return swept;
  }

  /** Runs `work` after a sweep, in one write transaction, with the store's time. */
  private write<T>(work: (now: number) => T): Promise<T> {
    return this.writeWithSweep((now) => work(now));
  }

  /**
   * Runs the sweep and `work` in one `BEGIN IMMEDIATE` transaction, so it holds the write
   * lock throughout. NOTE: both SQLite drivers are synchronous, so waiting for another
   * process's lock blocks this event loop, for at most `busyTimeoutMs`.
   */
  private writeWithSweep<T>(work: (now: number, swept: SlotEvent[]) => T): Promise<T> {
    return this.read(() =>
      this.db.transaction(
        () => {
          const now = this.now();
          return work(now, this.sweep(now));
        },
        { behavior: 'immediate' },
      ),
    );
  }

  private read<T>(work: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new RegistryClosedError());
    try {
      return Promise.resolve(work());
    } catch (err) {
      return Promise.reject(toRegistryError(err));
    }
  }
}

function toRegistryError(err: unknown): unknown {
  if (err instanceof RegistryError) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new RegistryUnavailableError('SQLite registry stayed locked by another process', {
      cause: err,
    });
  }
  return new RegistryUnavailableError('SQLite registry query failed', {
    cause: err,
    retryable: false,
  });
}

function isRowHolding(row: WorkerRow, now: number): boolean {
  return row.token !== null && (row.confirmed === 1 || (row.deadline ?? 0) > now);
}

/** Creates the tables, and adds the columns that files of an earlier version lack. */
function createSchema(db: SqliteDatabase): void {
  db.exec(SCHEMA);
  for (const added of ADDED_COLUMNS) {
    const columns = db.pragma(`table_info(${added.table})`);
    if (!columns.some((column) => column.name === added.column)) {
      db.exec(`ALTER TABLE ${added.table} ADD COLUMN ${added.sql}`);
    }
  }
  db.exec(`CREATE INDEX IF NOT EXISTS registry_workers_expiry ON registry_workers (expires_at);
    CREATE INDEX IF NOT EXISTS registry_workers_lapse ON registry_workers (deadline)
      WHERE token IS NOT NULL AND confirmed = 0 AND lapsed = 0;`);
}

function parseLabels(text: string): Record<string, string> {
  return JSON.parse(text) as Record<string, string>;
}

function toStoredWorker(row: WorkerRow): StoredWorker {
  return {
    workerId: row.worker_id,
    url: row.url,
    host: row.host,
    pool: row.pool,
    labels: parseLabels(row.labels),
    expiresAt: row.expires_at,
    draining: row.draining === 1,
    reservation:
      row.token === null || row.fence === null || row.call_id === null || row.deadline === null
        ? null
        : {
            token: row.token,
            fence: row.fence,
            callId: row.call_id,
            tenantId: row.tenant_id,
            campaignId: row.campaign_id,
            deadline: row.deadline,
            confirmed: row.confirmed === 1,
          },
  };
}
