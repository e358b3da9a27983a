/**
 * Adoption of live calls that a previous dialler process left on voxbridge: they become
 * in-memory attempts again, so the carrier's later status events apply to them as usual.
 * At start the loop adopts every live call before it claims, and afterwards a carrier event
 * for an unknown call adopts that call.
 *
 * What an adopted attempt lacks: the slot reservation token, which only the old process
 * held. Its worker is therefore not cancelled and its slot not released by this dialler.
 * The worker gives up on its own once the media stream does not arrive within the attach
 * request's `streamTimeoutMs`, and an unconfirmed reservation lapses at its deadline.
 */
import type { Logger } from '@voxfleet/logger';
import type { CarrierStatusEvent } from '@voxfleet/schema';

import type { AttemptContext } from './attempt-runner.js';
import type { InvalidAttempt, OpenCall, OpenCallsResult } from './bridge-client.js';
import { CallAttempt } from './call-attempt.js';
import type { CarrierCallState } from './carriers/types.js';
import { isRetryable } from './errors.js';

/** `lookup-failed`: the call is unknown here and voxbridge could not be asked about it. */
export type EventOutcome = 'applied' | 'duplicate' | 'unknown-call' | 'lookup-failed';

/** Maximum live calls adopted at start; more are left to voxbridge's abandoned-call sweep. */
const ADOPTION_LIMIT = 5_000;
/** Carrier lookups in flight at once while adopting, so a long list does not flood the carrier. */
const CARRIER_CHECK_BATCH = 20;
/** Finished call ids remembered, so that late duplicate events do not trigger a lookup. */
const SETTLED_MEMORY = 10_000;

/** The parts of the campaign loop that adoption uses. */
export interface AdoptionHost {
  isRunning(): boolean;
  find(callId: string): CallAttempt | undefined;
  track(attempt: CallAttempt): void;
  applyEvent(attempt: CallAttempt, event: CarrierStatusEvent): EventOutcome;
}

export class CallAdopter {
  /** True once the live calls voxbridge listed at start are adopted. Claims wait for it. */
  adopted = false;
  /** Calls finished or handed back here, or found closed on voxbridge, oldest first. */
  private readonly settled = new Set<string>();
  /** Lookups of unknown calls in progress, so concurrent events for one call ask once. */
  private readonly lookups = new Map<string, Promise<CallAttempt | EventOutcome>>();

  constructor(
    private readonly ctx: AttemptContext,
    private readonly log: Logger,
    private readonly host: AdoptionHost,
  ) {}

  /**
   * Adopts the live calls voxbridge lists, queries the carrier for the state of each placed
   * one and applies it, and hands back `queued` calls that were never placed. A failure
   * leaves `adopted` false, so the next tick tries again before claiming.
   *
   * NOTE: this assumes one dialler per voxbridge. A second dialler running at the same time
   * would have its queued attempts handed back and its live calls adopted here as well.
   */
  async adoptOpenCalls(): Promise<void> {
    let listed: OpenCallsResult;
    try {
      listed = await this.ctx.bridge.openCalls({ limit: ADOPTION_LIMIT });
    } catch (err) {
      if (isRetryable(err)) {
        this.log.warn({ err }, 'open call adoption failed, retrying');
        return;
      }
      // A 4xx will not change on a retry, for example from a voxbridge without the route,
      // and blocking the claims on it would stop the campaigns.
      this.log.error({ err }, 'open call adoption failed, claiming without it');
      this.adopted = true;
      return;
    }
    this.logInvalidOpenCalls(listed.invalid);
    if (listed.calls.length >= ADOPTION_LIMIT) {
      this.log.warn({ limit: ADOPTION_LIMIT }, 'open calls over the adoption limit');
    }

    const placed: CallAttempt[] = [];
    for (const open of listed.calls) {
      if (this.host.find(open.callId) !== undefined || this.settled.has(open.callId)) continue;
      if (open.status === 'queued') {
        this.requeueUnplaced(open);
        continue;
      }
      placed.push(this.adopt(open));
    }
    for (let start = 0; start < placed.length; start += CARRIER_CHECK_BATCH) {
      const batch = placed.slice(start, start + CARRIER_CHECK_BATCH);
      await Promise.all(batch.map((attempt) => this.checkCarrier(attempt)));
    }
    this.adopted = true;
    if (listed.calls.length > 0) {
      this.log.info({ open: listed.calls.length }, 'open calls adopted');
    }
  }

  /**
   * Hands back a call the previous process claimed but never reported as placed.
   *
   * NOTE: when that process placed the call and died before its `dialling` report reached
   * voxbridge, the contact is dialled a second time.
   */
  private requeueUnplaced(open: OpenCall): void {
    this.settle(open.callId);
    this.log.info({ callId: open.callId, campaignId: open.campaignId }, 'unplaced call requeued');
    this.ctx.outbox.enqueue(open.callId, 'requeue', () =>
      this.ctx.bridge.requeue(open.callId, 'dialler-restart'),
    );
  }

  private adopt(open: OpenCall): CallAttempt {
    const existing = this.host.find(open.callId);
    if (existing !== undefined) return existing;
    const attempt = adoptedAttempt(open, this.ctx.now());
    this.host.track(attempt);
    this.ctx.metrics.adoptedAttempts.inc();
    this.log.info(
      {
        callId: open.callId,
        campaignId: open.campaignId,
        status: open.status,
        carrierCallId: open.carrierCallId,
      },
      'call attempt adopted',
    );
    return attempt;
  }

  /**
   * Queries the carrier for an adopted call's state and applies it, so a call that ended
   * while no dialler listened is finished now. Without a usable response the watchdog ends it.
   */
  private async checkCarrier(attempt: CallAttempt): Promise<void> {
    const { callId, carrierCallId } = attempt;
    if (carrierCallId === null) return;
    try {
      const state = await this.ctx.carrier.getCall(carrierCallId);
      if (state === null) {
        this.log.info({ callId, carrierCallId }, 'adopted call unknown to carrier');
        return;
      }
      this.host.applyEvent(attempt, eventFromCarrierState(state, callId, this.ctx.now()));
    } catch (err) {
      this.log.warn({ err, callId, carrierCallId }, 'carrier call lookup failed');
    }
  }

  /**
   * Adopts a call that a carrier event names, if voxbridge lists it as live. Returns the
   * event's outcome instead when the call cannot be adopted.
   */
  adoptForEvent(callId: string): Promise<CallAttempt | EventOutcome> {
    if (!this.host.isRunning() || this.settled.has(callId)) {
      return Promise.resolve('unknown-call');
    }
    let lookup = this.lookups.get(callId);
    if (lookup === undefined) {
      lookup = this.fetchOpenCall(callId).finally(() => this.lookups.delete(callId));
      this.lookups.set(callId, lookup);
    }
    return lookup;
  }

  private async fetchOpenCall(callId: string): Promise<CallAttempt | EventOutcome> {
    let listed: OpenCallsResult;
    try {
      listed = await this.ctx.bridge.openCalls({ callId });
    } catch (err) {
      this.log.warn({ err, callId }, 'open call lookup failed');
      return isRetryable(err) ? 'lookup-failed' : 'unknown-call';
    }
    this.logInvalidOpenCalls(listed.invalid);
    const open = listed.calls.find((call) => call.callId === callId);
    // The drain may have started during the lookup, and a draining loop must not gain attempts.
    if (open === undefined || !this.host.isRunning()) {
      this.settle(callId);
      return 'unknown-call';
    }
    return this.adopt(open);
  }

  private logInvalidOpenCalls(invalid: InvalidAttempt[]): void {
    for (const { callId, problems } of invalid) {
      this.log.error({ callId, problems }, 'open call invalid');
    }
  }

  /** Remembers a call that no later event may adopt. */
  settle(callId: string): void {
    this.settled.add(callId);
    if (this.settled.size <= SETTLED_MEMORY) return;
    const oldest = this.settled.values().next();
    if (oldest.done !== true) this.settled.delete(oldest.value);
  }
}

/** Builds an attempt in the phase that matches the call's status on voxbridge. */
export function adoptedAttempt(open: OpenCall, nowMs: number): CallAttempt {
  const { status, carrierCallId, workerId, updatedAt, ...claim } = open;
  const attempt = new CallAttempt(claim);
  attempt.workerId = workerId;
  attempt.carrierCallId = carrierCallId;
  // The old process took the placing time with it, so the watchdog counts from the last
  // update, which is the same time or later.
  attempt.placedAt = Math.min(Date.parse(updatedAt), nowMs);
  attempt.advance('placing');
  // A `queued` call is adopted only after a carrier event for it, which proves the call was
  // placed although its `dialling` report never reached voxbridge.
  if (status === 'in-progress') attempt.advance('in-progress');
  else if (status === 'ringing') attempt.advance('ringing');
  else attempt.advance('dialling');
  return attempt;
}

/** Expresses a carrier's call state as the status event the carrier would have sent. */
export function eventFromCarrierState(
  state: CarrierCallState,
  callId: string,
  nowMs: number,
): CarrierStatusEvent {
  return {
    carrierCallId: state.carrierCallId,
    callId,
    status: state.status,
    at: state.endedAt ?? new Date(nowMs).toISOString(),
  };
}
