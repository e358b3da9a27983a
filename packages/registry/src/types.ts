/**
 * The capacity registry contract. Every backend (SQLite, Redis) implements
 * `CapacityRegistry` and passes the same contract suite.
 *
 * A slot is one worker process, which holds at most one call. Its life:
 * register (idle) -> reserve (reserved, with a token and a deadline) -> confirm on attach
 * (busy) -> release (idle). A reservation that is not confirmed by its deadline lapses and
 * the slot is idle again. A worker whose TTL passes without a heartbeat disappears.
 */

export type SlotState = 'idle' | 'reserved' | 'busy' | 'draining';

export interface WorkerRegistration {
  workerId: string;
  /** Base URL the dialler uses for `/attach`, such as http://127.0.0.1:7801. */
  url: string;
  host: string;
  pool: string;
  labels: Record<string, string>;
  /** The worker disappears this long after its last heartbeat. */
  ttlMs: number;
  /**
   * The call the worker is running, sent when it registers again after the registry lost
   * it (`heartbeat` returned false), so the slot comes back busy instead of idle. Applied
   * only when the registry has no live entry for the worker; a live entry keeps its own
   * reservation. The fence counter moves past `fence`, so it is never handed out again.
   */
  activeReservation?: ActiveReservation;
}

export interface ActiveReservation {
  token: string;
  fence: number;
  callId: string;
  tenantId?: string;
  campaignId?: string;
}

export interface ReserveRequest {
  pool: string;
  /** Only workers whose labels include every one of these pairs qualify. */
  labels?: Record<string, string>;
  callId: string;
  tenantId?: string;
  campaignId?: string;
  /** The reservation lapses unless confirmed within this time. */
  reservationTtlMs: number;
  /** Limits checked in the same atomic step as the reservation; see `ReserveQuotas`. */
  quotas?: ReserveQuotas;
}

export interface QuotaLimit {
  id: string;
  /** Maximum number of live reservations (reserved or busy) of this id in the pool. */
  limit: number;
}

/**
 * Concurrency limits of a reservation. Both backends count the live reservations of the
 * request's pool that carry the same tenant or campaign id, so a count cannot drift: a
 * lapsed reservation, a released slot or an expired worker simply stops counting. A
 * reservation records `tenant.id ?? tenantId` and `campaign.id ?? campaignId`.
 * When a limit is reached, `reserve` throws `RegistryQuotaExceededError`.
 */
export interface ReserveQuotas {
  tenant?: QuotaLimit;
  campaign?: QuotaLimit;
}

export interface Reservation {
  workerId: string;
  url: string;
  /** Secret handed to the worker on attach; it must match to confirm or release. */
  token: string;
  /**
   * Monotonically increasing fencing number, never reused. SQLite keeps one counter per
   * database; Redis keeps one per pool, because the keys of one pool share one Cluster slot.
   */
  fence: number;
  callId: string;
  /** Epoch milliseconds on the registry's clock. */
  deadline: number;
}

export type ConfirmResult = 'confirmed' | 'unknown-worker' | 'token-mismatch' | 'expired';

export interface SlotView {
  workerId: string;
  url: string;
  host: string;
  pool: string;
  labels: Record<string, string>;
  state: SlotState;
  draining: boolean;
  reservation: {
    callId: string;
    fence: number;
    deadline: number;
    confirmed: boolean;
    tenantId?: string;
    campaignId?: string;
  } | null;
  /** Epoch milliseconds on the registry's clock. */
  expiresAt: number;
}

/** Selects workers for `setDrainingWhere`; a worker matches when every given field equals. */
export interface DrainFilter {
  pool?: string;
  host?: string;
  workerId?: string;
}

export type SlotEventType =
  | 'registered'
  | 'reserved'
  | 'confirmed'
  | 'released'
  | 'reservation-lapsed'
  | 'drain'
  | 'undrain'
  | 'deregistered'
  | 'expired';

/**
 * One slot state change in the registry's event stream. `callId`, `fence`, `tenantId` and
 * `campaignId` describe the reservation involved: the one made, confirmed, released or
 * lapsed, or the one a worker held when it expired or was deregistered (absent when it
 * held none). An `expired` event with a `callId` is a call whose worker disappeared.
 */
export interface SlotEvent {
  /** Unique per pool on Redis (a stream entry id), unique per database on SQLite. */
  id: string;
  type: SlotEventType;
  workerId: string;
  pool: string;
  host: string;
  /** Epoch milliseconds on the registry's clock. */
  at: number;
  callId?: string;
  fence?: number;
  tenantId?: string;
  campaignId?: string;
}

export interface SlotEventPage {
  events: SlotEvent[];
  /** Cursor to pass as `afterId` on the next call; unchanged when no event was read. */
  lastId: string;
}

export interface CapacityRegistry {
  /** Adds the worker or refreshes it; an existing reservation survives re-registration. */
  register(worker: WorkerRegistration): Promise<void>;
  /**
   * Extends the TTL; returns false when the worker is unknown and must register again.
   * `activeReservation` re-asserts the call the worker is running. When the registry does
   * not show the worker holding that token as confirmed, for example after a failover lost
   * the confirm, the slot becomes busy with it again and any other reservation is dropped.
   * Send it only while no confirm or release of this worker is in flight, and stop sending
   * it before releasing, or a heartbeat could bring back a call that just ended.
   *
   * `releasedToken` re-asserts an idle slot: an idle worker passes the token of the last
   * reservation it released. When the registry still shows that token holding the slot,
   * for example after a failover lost the release, the slot is released (with a `released`
   * event). A reservation with another token is never freed, neither one in flight whose
   * attach has not reached the worker, nor one confirmed after the heartbeat was sent,
   * because every reservation gets a new token. It is ignored with `activeReservation`.
   */
  heartbeat(
    workerId: string,
    ttlMs: number,
    activeReservation?: ActiveReservation,
    releasedToken?: string,
  ): Promise<boolean>;
  /** Removes the worker and any reservation it held. */
  deregister(workerId: string): Promise<void>;
  /** Atomically picks an idle worker and reserves it; null when none is free. */
  reserve(request: ReserveRequest): Promise<Reservation | null>;
  /** Marks the reservation as attached; only the current token before its deadline wins. */
  confirm(workerId: string, token: string): Promise<ConfirmResult>;
  /** Frees the slot if `token` still holds it; true when this call freed it. Idempotent. */
  release(workerId: string, token: string): Promise<boolean>;
  /** Sets or clears drain; a draining worker gets no new reservation. */
  setDraining(workerId: string, draining: boolean): Promise<boolean>;
  /**
   * Sets or clears drain on every live worker that matches all fields of `filter`, which
   * must name at least one field. Returns how many workers changed their drain flag.
   */
  setDrainingWhere(filter: DrainFilter, draining: boolean): Promise<number>;
  /**
   * Every live worker, expired ones left out. Listing also removes expired workers and
   * lapsed reservations from the store and appends their events, as `reap` does.
   */
  list(pool?: string): Promise<SlotView[]>;
  /**
   * Reads up to `limit` slot events after the cursor `afterId`, oldest first. Pass null to
   * start at the oldest event the store still keeps, then pass the returned `lastId`,
   * which is an opaque cursor and not necessarily the id of the last event.
   */
  readEvents(afterId: string | null, limit: number): Promise<SlotEventPage>;
  /**
   * Removes workers past their TTL and lapses reservations past their deadline, appends an
   * `expired` or `reservation-lapsed` event for each, and returns those events. Safe to run
   * from several processes at once: each expiry is removed, and so reported, exactly once.
   * An expiry that another call detected first is in the event stream but not returned.
   */
  reap(): Promise<SlotEvent[]>;
  /** Closes connections; idempotent. */
  close(): Promise<void>;
}
