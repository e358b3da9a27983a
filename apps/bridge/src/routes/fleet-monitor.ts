/**
 * Samples the capacity registry for the dashboard. Every `sampleIntervalMs` it lists the
 * workers, keeps the latest snapshot, appends slot counts to an in-memory ring buffer that
 * covers `historyMs`, and calls every subscriber. The history lives in this process only:
 * it starts empty after a restart, and each voxbridge replica keeps its own.
 *
 * A worker that leaves the registry (TTL passed or deregistered) stays in the snapshot as
 * `offline` until `historyMs` after it was last seen, so operators see what disappeared.
 */
import type { Logger } from '@voxfleet/logger';
import type { CapacityRegistry, SlotEvent, SlotView } from '@voxfleet/registry';

export type FleetSlotState = 'idle' | 'reserved' | 'busy' | 'draining' | 'offline';

export interface FleetWorker {
  workerId: string;
  url: string;
  host: string;
  pool: string;
  labels: Record<string, string>;
  state: FleetSlotState;
  draining: boolean;
  reservation: {
    callId: string;
    tenantId: string | null;
    campaignId: string | null;
    confirmed: boolean;
    /** Epoch milliseconds on the registry's clock. */
    deadline: number;
  } | null;
  /** Epoch milliseconds on the bridge's clock when the registry last listed this worker. */
  lastSeenAt: number;
}

export interface FleetCounts {
  workers: number;
  idle: number;
  reserved: number;
  busy: number;
  draining: number;
  offline: number;
}

/** One point of the capacity history. */
export interface FleetSample {
  /** Epoch milliseconds on the bridge's clock. */
  at: number;
  /** Slots reserved or in a call. */
  used: number;
  /** Idle slots that are not draining, so a reservation could take them. */
  free: number;
  draining: number;
  offline: number;
}

export interface FleetState {
  registryConfigured: boolean;
  /** Message of the last failed listing; null after a successful one. */
  registryError: string | null;
  /** Epoch milliseconds of the last successful listing; null before the first. */
  sampledAt: number | null;
  counts: FleetCounts;
  workers: FleetWorker[];
}

export interface FleetMonitorOptions {
  /** Null when voxbridge runs without REGISTRY_URL: the fleet stays empty. */
  openRegistry: (() => Promise<CapacityRegistry>) | null;
  logger: Logger;
  /** Defaults to 5000. */
  sampleIntervalMs?: number;
  /** Defaults to one hour. */
  historyMs?: number;
  /** Epoch milliseconds; tests may pin it. */
  now?: () => number;
  /** Receives the registry's slot events after each sample, oldest first. */
  onSlotEvents?: (events: SlotEvent[]) => Promise<void>;
}

/** Events read per page of the registry's event stream. */
const EVENT_PAGE_SIZE = 500;

export type FleetListener = (state: FleetState) => void;

const EMPTY_COUNTS: FleetCounts = {
  workers: 0,
  idle: 0,
  reserved: 0,
  busy: 0,
  draining: 0,
  offline: 0,
};

export class FleetMonitor {
  readonly sampleIntervalMs: number;
  readonly historyMs: number;
  private readonly options: FleetMonitorOptions;
  private readonly now: () => number;
  private readonly samples: FleetSample[] = [];
  private readonly capacity: number;
  /** Index in `samples` where the next sample goes once the buffer is full. */
  private nextIndex = 0;
  private readonly listeners = new Set<FleetListener>();
  private readonly known = new Map<string, FleetWorker>();
  private eventCursor: string | null = null;
  private registry: CapacityRegistry | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sampling: Promise<void> | null = null;
  private started: Promise<void> | null = null;
  private stopped = false;
  private state: FleetState;

  constructor(options: FleetMonitorOptions) {
    this.options = options;
    this.sampleIntervalMs = options.sampleIntervalMs ?? 5000;
    this.historyMs = options.historyMs ?? 60 * 60 * 1000;
    this.now = options.now ?? Date.now;
    this.capacity = Math.max(1, Math.ceil(this.historyMs / this.sampleIntervalMs));
    this.state = {
      registryConfigured: options.openRegistry !== null,
      registryError: null,
      sampledAt: null,
      counts: { ...EMPTY_COUNTS },
      workers: [],
    };
  }

  /** Opens the registry, takes the first sample and starts the timer. Idempotent. */
  start(): Promise<void> {
    this.started ??= this.open();
    return this.started;
  }

  /** Stops the timer, waits for a sample in flight and closes the registry. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
    await this.started?.catch(() => undefined);
    await this.sampling;
    const registry = this.registry;
    this.registry = null;
    await registry?.close();
  }

  snapshot(): FleetState {
    return this.state;
  }

  /** Returns the samples oldest first. */
  history(): FleetSample[] {
    return [...this.samples.slice(this.nextIndex), ...this.samples.slice(0, this.nextIndex)];
  }

  /** Calls `listener` after every sample; returns the function that unsubscribes. */
  subscribe(listener: FleetListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Lists the registry once now; the timer calls it too. Concurrent calls share one listing. */
  sample(): Promise<void> {
    this.sampling ??= this.takeSample().finally(() => {
      this.sampling = null;
    });
    return this.sampling;
  }

  private async open(): Promise<void> {
    const open = this.options.openRegistry;
    if (open === null) {
      this.options.logger.info({}, 'fleet monitor off, REGISTRY_URL not set');
      return;
    }
    try {
      this.registry = await open();
    } catch (err) {
      // The dashboard still works without the fleet, so a registry outage at startup
      // must not stop voxbridge. The snapshot reports the error instead.
      this.options.logger.error({ err }, 'fleet registry open failed');
      this.state = { ...this.state, registryError: errorMessage(err) };
      return;
    }
    if (this.stopped) {
      await this.registry.close();
      this.registry = null;
      return;
    }
    await this.sample();
    this.timer = setInterval(() => void this.sample(), this.sampleIntervalMs);
    this.timer.unref();
    this.options.logger.info({ sampleIntervalMs: this.sampleIntervalMs }, 'fleet monitor started');
  }

  private async takeSample(): Promise<void> {
    const registry = this.registry;
    if (registry === null || this.stopped) return;
    let slots: SlotView[];
    try {
      slots = await registry.list();
    } catch (err) {
      // Log the first failure of a run of failures only, so an outage logs once.
      if (this.state.registryError === null) {
        this.options.logger.warn({ err }, 'fleet registry listing failed');
      }
      this.state = { ...this.state, registryError: errorMessage(err) };
      this.notify();
      return;
    }

    if (this.state.registryError !== null) {
      this.options.logger.info({}, 'fleet registry listing recovered');
    }
    await this.followEvents(registry);
    const at = this.now();
    this.updateWorkers(slots, at);
    const workers = [...this.known.values()].sort(compareWorkers);
    const counts = countStates(workers);
    this.state = { registryConfigured: true, registryError: null, sampledAt: at, counts, workers };

    // An idle worker that drains has the state `draining`, so `idle` counts only free slots.
    this.append({
      at,
      used: counts.reserved + counts.busy,
      free: counts.idle,
      draining: counts.draining,
      offline: counts.offline,
    });
    this.notify();
  }

  /**
   * Hands new slot events to `onSlotEvents`. The cursor moves only past events handled
   * without an error, so a failed page is read again on the next sample.
   */
  private async followEvents(registry: CapacityRegistry): Promise<void> {
    const onSlotEvents = this.options.onSlotEvents;
    if (onSlotEvents === undefined) return;
    try {
      for (let page = 0; page < 10; page++) {
        const { events, lastId } = await registry.readEvents(this.eventCursor, EVENT_PAGE_SIZE);
        if (events.length > 0) await onSlotEvents(events);
        this.eventCursor = lastId;
        if (events.length < EVENT_PAGE_SIZE) break;
      }
    } catch (err) {
      this.options.logger.warn({ err }, 'slot event handling failed; retrying next sample');
    }
  }

  private updateWorkers(slots: SlotView[], at: number): void {
    const listed = new Set<string>();
    for (const slot of slots) {
      listed.add(slot.workerId);
      this.known.set(slot.workerId, workerOf(slot, at));
    }
    for (const [workerId, worker] of this.known) {
      if (listed.has(workerId)) continue;
      if (at - worker.lastSeenAt > this.historyMs) {
        this.known.delete(workerId);
      } else if (worker.state !== 'offline') {
        this.known.set(workerId, { ...worker, state: 'offline', reservation: null });
      }
    }
  }

  private append(sample: FleetSample): void {
    if (this.samples.length < this.capacity) {
      this.samples.push(sample);
      return;
    }
    this.samples[this.nextIndex] = sample;
    this.nextIndex = (this.nextIndex + 1) % this.capacity;
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener(this.state);
      } catch (err) {
        this.options.logger.error({ err }, 'fleet listener failed');
      }
    }
  }
}

function workerOf(slot: SlotView, at: number): FleetWorker {
  // The registry reports a draining worker's state as `draining` only while it has no
  // reservation. A draining worker in a call stays `busy` with the `draining` flag set.
  return {
    workerId: slot.workerId,
    url: slot.url,
    host: slot.host,
    pool: slot.pool,
    labels: slot.labels,
    state: slot.state,
    draining: slot.draining,
    reservation:
      slot.reservation === null
        ? null
        : {
            callId: slot.reservation.callId,
            tenantId: slot.reservation.tenantId ?? null,
            campaignId: slot.reservation.campaignId ?? null,
            confirmed: slot.reservation.confirmed,
            deadline: slot.reservation.deadline,
          },
    lastSeenAt: at,
  };
}

function countStates(workers: FleetWorker[]): FleetCounts {
  const counts = { ...EMPTY_COUNTS, workers: workers.length };
  for (const worker of workers) counts[worker.state] += 1;
  return counts;
}

function compareWorkers(a: FleetWorker, b: FleetWorker): number {
  return (
    a.host.localeCompare(b.host) ||
    a.pool.localeCompare(b.pool) ||
    a.workerId.localeCompare(b.workerId, undefined, { numeric: true })
  );
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
