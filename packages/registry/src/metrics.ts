/**
 * Prometheus metrics of the capacity registry. `createRegistryMetrics` registers them and
 * `instrumentRegistry` wraps a registry so that its calls feed them.
 *
 * The slot gauge and the lapsed and orphaned counters describe the whole store, not this
 * process: every scrape lists the slots and reads the event stream from where the last
 * scrape stopped. Several processes exporting them therefore report the same numbers.
 *
 * @example
 * const metrics = createRegistryMetrics(promRegistry);
 * const registry = await instrumentRegistry(await openRegistry(url), metrics);
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { RegistryQuotaExceededError } from './errors.js';
import type {
  ActiveReservation,
  CapacityRegistry,
  ConfirmResult,
  DrainFilter,
  Reservation,
  ReserveRequest,
  SlotEvent,
  SlotEventPage,
  SlotState,
  SlotView,
  WorkerRegistration,
} from './types.js';

const SLOT_STATES: readonly SlotState[] = ['idle', 'reserved', 'busy', 'draining'];
const EVENT_PAGE = 1_000;

export type ReserveOutcome = 'reserved' | 'no_capacity' | 'quota_exceeded' | 'error';

export interface RegistryMetrics {
  /** Live slots per pool and state, refreshed from `list` on every scrape. */
  slots: Gauge<'pool' | 'state'>;
  /** Duration of `reserve` calls, by outcome, in seconds. */
  reserveDuration: Histogram<'outcome'>;
  /** `reserve` calls by outcome: reserved, no_capacity, quota_exceeded or error. */
  reservations: Counter<'outcome'>;
  /** Reservations that lapsed unconfirmed, read from the event stream. */
  lapsed: Counter;
  /** Calls whose worker expired while holding them, read from the event stream. */
  orphaned: Counter;
  /** Scrapes whose refresh from the registry failed; the values then stay as they were. */
  refreshFailures: Counter;
}

interface MetricsSource {
  refresh(): Promise<void>;
}

/** Registers the registry's metrics in `promRegistry`. Wrap one registry per set. */
export function createRegistryMetrics(promRegistry: Registry): RegistryMetrics {
  const sources = new Set<MetricsSource>();
  const registers = [promRegistry];
  // Created first, so that its collect (which refreshes every metric) runs first per scrape.
  const slots = new Gauge({
    name: 'voxfleet_registry_slots',
    help: 'Live worker slots per pool and state (idle, reserved, busy, draining)',
    labelNames: ['pool', 'state'] as const,
    registers,
    async collect() {
      await Promise.all([...sources].map((source) => source.refresh()));
    },
  });
  const metrics: RegistryMetrics = {
    slots,
    reserveDuration: new Histogram({
      name: 'voxfleet_registry_reserve_duration_seconds',
      help: 'Duration of registry reserve calls in seconds, by outcome',
      labelNames: ['outcome'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    reservations: new Counter({
      name: 'voxfleet_registry_reservations_total',
      help: 'Registry reserve calls by outcome: reserved, no_capacity, quota_exceeded, error',
      labelNames: ['outcome'] as const,
      registers,
    }),
    lapsed: new Counter({
      name: 'voxfleet_registry_reservations_lapsed_total',
      help: 'Reservations that lapsed because no worker confirmed them before the deadline',
      registers,
    }),
    orphaned: new Counter({
      name: 'voxfleet_registry_calls_orphaned_total',
      help: 'Calls whose worker expired (missed its heartbeats) while holding them',
      registers,
    }),
    refreshFailures: new Counter({
      name: 'voxfleet_registry_metrics_refresh_failures_total',
      help: 'Scrapes whose slot list or event read from the registry failed',
      registers,
    }),
  };
  metricSources.set(metrics, sources);
  return metrics;
}

/** The wrapped registries that refresh each metrics set on scrape. */
const metricSources = new WeakMap<RegistryMetrics, Set<MetricsSource>>();

/**
 * Wraps `registry` so that its calls record `metrics`. Reads the event stream to its end
 * first, so the lapsed and orphaned counters start from now and not from the backlog.
 */
export async function instrumentRegistry(
  registry: CapacityRegistry,
  metrics: RegistryMetrics,
): Promise<InstrumentedRegistry> {
  let cursor: string | null = null;
  for (;;) {
    const page = await registry.readEvents(cursor, EVENT_PAGE);
    cursor = page.lastId;
    if (page.events.length < EVENT_PAGE) break;
  }
  const instrumented = new InstrumentedRegistry(registry, metrics, cursor);
  metricSources.get(metrics)?.add(instrumented);
  return instrumented;
}

/** A `CapacityRegistry` that records metrics around the one it wraps. */
export class InstrumentedRegistry implements CapacityRegistry, MetricsSource {
  private readonly inner: CapacityRegistry;
  private readonly metrics: RegistryMetrics;
  private cursor: string;
  private refreshing: Promise<void> | null = null;

  constructor(inner: CapacityRegistry, metrics: RegistryMetrics, cursor: string) {
    this.inner = inner;
    this.metrics = metrics;
    this.cursor = cursor;
  }

  async reserve(request: ReserveRequest): Promise<Reservation | null> {
    const started = performance.now();
    let outcome: ReserveOutcome = 'error';
    try {
      const reservation = await this.inner.reserve(request);
      outcome = reservation === null ? 'no_capacity' : 'reserved';
      return reservation;
    } catch (err) {
      if (err instanceof RegistryQuotaExceededError) outcome = 'quota_exceeded';
      throw err;
    } finally {
      this.metrics.reserveDuration.observe({ outcome }, (performance.now() - started) / 1000);
      this.metrics.reservations.inc({ outcome });
    }
  }

  /** Refreshes the slot gauge and the event counters; one refresh runs at a time. */
  refresh(): Promise<void> {
    this.refreshing ??= this.refreshNow().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  register(worker: WorkerRegistration): Promise<void> {
    return this.inner.register(worker);
  }

  heartbeat(
    workerId: string,
    ttlMs: number,
    activeReservation?: ActiveReservation,
    releasedToken?: string,
  ): Promise<boolean> {
    return this.inner.heartbeat(workerId, ttlMs, activeReservation, releasedToken);
  }

  deregister(workerId: string): Promise<void> {
    return this.inner.deregister(workerId);
  }

  confirm(workerId: string, token: string): Promise<ConfirmResult> {
    return this.inner.confirm(workerId, token);
  }

  release(workerId: string, token: string): Promise<boolean> {
    return this.inner.release(workerId, token);
  }

  setDraining(workerId: string, draining: boolean): Promise<boolean> {
    return this.inner.setDraining(workerId, draining);
  }

  setDrainingWhere(filter: DrainFilter, draining: boolean): Promise<number> {
    return this.inner.setDrainingWhere(filter, draining);
  }

  list(pool?: string): Promise<SlotView[]> {
    return this.inner.list(pool);
  }

  readEvents(afterId: string | null, limit: number): Promise<SlotEventPage> {
    return this.inner.readEvents(afterId, limit);
  }

  reap(): Promise<SlotEvent[]> {
    return this.inner.reap();
  }

  /** Stops refreshing the metrics and closes the wrapped registry; idempotent. */
  close(): Promise<void> {
    metricSources.get(this.metrics)?.delete(this);
    return this.inner.close();
  }

  private async refreshNow(): Promise<void> {
    try {
      const slots = await this.inner.list();
      this.metrics.slots.reset();
      const pools = new Set(slots.map((slot) => slot.pool));
      for (const pool of pools) {
        for (const state of SLOT_STATES) this.metrics.slots.set({ pool, state }, 0);
      }
      for (const slot of slots) this.metrics.slots.inc({ pool: slot.pool, state: slot.state });

      for (;;) {
        const page = await this.inner.readEvents(this.cursor, EVENT_PAGE);
        this.cursor = page.lastId;
        for (const event of page.events) this.countEvent(event);
        if (page.events.length < EVENT_PAGE) break;
      }
    } catch {
      // The registry is unreachable; the scrape reports the last values and this counter.
      this.metrics.refreshFailures.inc();
    }
  }

  private countEvent(event: SlotEvent): void {
    if (event.type === 'reservation-lapsed') this.metrics.lapsed.inc();
    if (event.type === 'expired' && event.callId !== undefined) this.metrics.orphaned.inc();
  }
}
