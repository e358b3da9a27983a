/**
 * Keeps this worker registered in the capacity registry: registers at start, heartbeats
 * every `heartbeatIntervalMs`, and registers again when a heartbeat finds the worker
 * unknown (its TTL lapsed). A re-registration during a call re-asserts the call's
 * reservation, so the slot comes back busy. Registry errors are logged and retried on the
 * next tick, and they never stop the worker.
 */
import type { Logger } from '@voxfleet/logger';
import type { ActiveReservation, CapacityRegistry, WorkerRegistration } from '@voxfleet/registry';

export interface RegistryLinkOptions {
  registry: CapacityRegistry;
  registration: WorkerRegistration;
  heartbeatIntervalMs: number;
  log: Logger;
}

export class RegistryLink {
  readonly #options: RegistryLinkOptions;
  #timer: NodeJS.Timeout | null = null;
  #tick: Promise<void> | null = null;
  #registered = false;
  /** Whether this process has registered at least once. */
  #registeredOnce = false;
  #draining = false;
  #running = false;
  #activeReservation: ActiveReservation | null = null;
  /**
   * Token of the last reservation released, sent on heartbeats while no call runs, so the
   * registry frees the slot if a failover lost that release.
   */
  #releasedToken: string | null = null;
  /** The call whose reservation is being looked up; cleared on release. */
  #currentCallId: string | null = null;

  constructor(options: RegistryLinkOptions) {
    this.#options = options;
  }

  get registered(): boolean {
    return this.#registered;
  }

  /** Registers (or logs why not) and starts the heartbeat loop; idempotent. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#beat();
    this.#schedule();
  }

  /** Marks the worker draining so the dialler reserves it no more. */
  async setDraining(): Promise<void> {
    this.#draining = true;
    const { registry, registration, log } = this.#options;
    try {
      await registry.setDraining(registration.workerId, true);
    } catch (err) {
      log.warn({ err }, 'registry drain update failed');
    }
  }

  /**
   * Remembers the confirmed reservation of the call in progress, with the fence the registry
   * gave it, for a re-registration during the call. A failed lookup is logged, and then a
   * re-registration brings the slot back idle.
   */
  async rememberCall(call: Omit<ActiveReservation, 'fence'>): Promise<void> {
    const { registry, registration, log } = this.#options;
    this.#currentCallId = call.callId;
    try {
      const slots = await registry.list(registration.pool);
      const slot = slots.find((view) => view.workerId === registration.workerId);
      const fence = slot?.reservation?.callId === call.callId ? slot.reservation.fence : null;
      if (fence === null) {
        log.warn({ callId: call.callId }, 'confirmed reservation not found in registry');
        return;
      }
      // The call may have ended while the lookup ran.
      if (this.#currentCallId === call.callId) this.#activeReservation = { ...call, fence };
    } catch (err) {
      log.warn({ err, callId: call.callId }, 'registry lookup of reservation failed');
    }
  }

  /** Frees a reservation; retries a few times because a held slot is lost capacity. */
  async release(token: string, callId: string): Promise<void> {
    const { registry, registration, log } = this.#options;
    if (this.#currentCallId === callId) {
      this.#currentCallId = null;
      this.#activeReservation = null;
    }
    this.#releasedToken = token;
    // A heartbeat already sent may still re-assert this call. If it landed after the
    // release, it would make the slot busy again with a call that has ended.
    await this.#tick?.catch(() => undefined);
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const freed = await registry.release(registration.workerId, token);
        log.debug({ callId, freed }, 'reservation released');
        return;
      } catch (err) {
        log.warn({ err, callId, attempt }, 'reservation release failed');
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt).unref());
      }
    }
  }

  /** Stops the heartbeat and removes the worker from the registry; idempotent. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#tick;
    const { registry, registration, log } = this.#options;
    try {
      await registry.deregister(registration.workerId);
      this.#registered = false;
      log.info({}, 'worker deregistered');
    } catch (err) {
      log.warn({ err }, 'registry deregister failed');
    }
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#tick = this.#beat().finally(() => {
        this.#tick = null;
        this.#schedule();
      });
    }, this.#options.heartbeatIntervalMs);
    this.#timer.unref();
  }

  /**
   * Frees a reservation that the registry still keeps under this worker id from before
   * this process started. A worker restarted within its TTL (a crash, then a supervisor's
   * restart) has no call, and registering again would otherwise keep that slot busy.
   */
  async #dropStaleReservation(): Promise<void> {
    const { registry, registration, log } = this.#options;
    const slots = await registry.list(registration.pool);
    const stale = slots.find((slot) => slot.workerId === registration.workerId)?.reservation;
    if (stale === null || stale === undefined) return;
    log.warn({ callId: stale.callId }, 'dropping a reservation left by a previous process');
    await registry.deregister(registration.workerId);
  }

  async #beat(): Promise<void> {
    const { registry, registration, log } = this.#options;
    try {
      if (this.#registered) {
        // Re-asserting the call on every beat restores a busy slot that a Redis failover
        // lost, before any dialler can reserve it again. While idle, the released token
        // frees a slot whose release the failover lost.
        const active = this.#activeReservation;
        const known = await registry.heartbeat(
          registration.workerId,
          registration.ttlMs,
          active ?? undefined,
          active === null ? (this.#releasedToken ?? undefined) : undefined,
        );
        if (known) return;
        log.warn({}, 'registry lost this worker; registering again');
        this.#registered = false;
      }
      if (!this.#registeredOnce) await this.#dropStaleReservation();
      const active = this.#activeReservation;
      await registry.register(
        active === null ? registration : { ...registration, activeReservation: active },
      );
      if (this.#draining) await registry.setDraining(registration.workerId, true);
      this.#registered = true;
      this.#registeredOnce = true;
      log.info({ url: registration.url, pool: registration.pool }, 'worker registered');
    } catch (err) {
      log.warn({ err }, 'registry update failed; retrying');
    }
  }
}
