/**
 * Closes call records that the registry's slot events show can no longer end by
 * themselves:
 *
 * - A worker that died mid-call: the registry reports it `expired` with the call it held
 *   once its TTL passes without a heartbeat. An answered call still `in-progress` then ends
 *   as `failed` with reason `worker-lost`.
 * - An inbound call whose worker released the slot without a result, such as a call whose
 *   carrier never opened the media stream. After `releaseGraceMs` (time for a result the
 *   worker spooled to arrive) a call still `in-progress` without a result ends as `failed`
 *   with reason `no-result`. Outbound calls are left to the dialler, which hears the
 *   carrier's final status.
 *
 * A result that arrives after either closure is still accepted.
 */
import type { Logger } from '@voxfleet/logger';
import type { SlotEvent } from '@voxfleet/registry';
import type { BridgeStore } from '../store/types.js';

export interface LostCallsOptions {
  store: BridgeStore;
  logger: Logger;
  /** Wait between an inbound call's release and its closure. Defaults to 60000. */
  releaseGraceMs?: number;
  now?: () => Date;
}

/** Releases waiting for their grace period. Past this many, the oldest is checked at once. */
const MAX_PENDING_RELEASES = 10_000;

export class LostCalls {
  readonly #store: BridgeStore;
  readonly #log: Logger;
  readonly #releaseGraceMs: number;
  readonly #now: () => Date;
  readonly #pending = new Map<string, NodeJS.Timeout>();
  readonly #checks = new Set<Promise<void>>();
  #stopped = false;

  constructor(options: LostCallsOptions) {
    this.#store = options.store;
    this.#log = options.logger;
    this.#releaseGraceMs = options.releaseGraceMs ?? 60_000;
    this.#now = options.now ?? (() => new Date());
  }

  /** Handles one page of slot events. A failure on one call is logged and skipped. */
  readonly onEvents = async (events: SlotEvent[]): Promise<void> => {
    for (const event of events) {
      if (event.callId === undefined) continue;
      try {
        if (event.type === 'expired') await this.#closeLost(event.callId, event);
        else if (event.type === 'released') this.#watchRelease(event.callId);
      } catch (err) {
        this.#log.warn(
          { err, callId: event.callId, type: event.type },
          'slot event handling failed',
        );
      }
    }
  };

  /** Cancels the pending release checks and waits for those running. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#pending.values()) clearTimeout(timer);
    this.#pending.clear();
    await Promise.all(this.#checks);
  }

  async #closeLost(callId: string, event: SlotEvent): Promise<void> {
    const call = await this.#store.getCallById(callId);
    // Calls not yet answered end through the dialler, which hears from the carrier.
    if (call === null || call.status !== 'in-progress') return;
    await this.#store.applyCallStatus(callId, {
      status: 'failed',
      at: new Date(event.at).toISOString(),
      reason: 'worker-lost',
      workerId: event.workerId,
    });
    this.#log.warn(
      { callId, workerId: event.workerId },
      'call closed: its worker stopped heartbeating',
    );
  }

  #watchRelease(callId: string): void {
    if (this.#stopped || this.#pending.has(callId)) return;
    if (this.#pending.size >= MAX_PENDING_RELEASES) {
      const [oldest, timer] = this.#pending.entries().next().value ?? [];
      if (oldest !== undefined) {
        clearTimeout(timer);
        this.#runCheck(oldest);
      }
    }
    const timer = setTimeout(() => this.#runCheck(callId), this.#releaseGraceMs);
    timer.unref();
    this.#pending.set(callId, timer);
  }

  #runCheck(callId: string): void {
    this.#pending.delete(callId);
    const check = this.#closeUnfinished(callId)
      .catch((err: unknown) => {
        this.#log.warn({ err, callId }, 'released call check failed');
      })
      .finally(() => this.#checks.delete(check));
    this.#checks.add(check);
  }

  async #closeUnfinished(callId: string): Promise<void> {
    const call = await this.#store.getCallById(callId);
    if (call === null || call.direction !== 'inbound') return;
    if (call.status !== 'in-progress' || call.result !== null) return;
    await this.#store.applyCallStatus(callId, {
      status: 'failed',
      at: this.#now().toISOString(),
      reason: 'no-result',
    });
    this.#log.warn({ callId }, 'inbound call closed: its worker released it without a result');
  }
}
