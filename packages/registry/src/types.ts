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

export interface CapacityRegistry {
  /** Adds the worker or refreshes it; an existing reservation survives re-registration. */
  register(worker: WorkerRegistration): Promise<void>;
  /** Extends the TTL; returns false when the worker is unknown and must register again. */
  heartbeat(workerId: string, ttlMs: number): Promise<boolean>;
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
  /** Every live worker, expired ones left out. */
  list(pool?: string): Promise<SlotView[]>;
  /** Closes connections; idempotent. */
  close(): Promise<void>;
}
