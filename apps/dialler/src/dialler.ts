/**
 * The campaign loop. Every pacing interval it counts idle slots, claims that many due
 * attempts (never more than `maxInFlight` in flight), and launches each. Carrier events
 * move attempts forward; a watchdog ends attempts the carrier went quiet on.
 *
 * Before its first claim the loop adopts the live calls voxbridge lists (`adoption.ts`),
 * since a previous process may have died with calls ringing. A carrier event for an
 * unknown call adopts that call the same way.
 *
 * States: idle -> running -> draining -> stopped. `drain()` stops claiming, waits for
 * attempts in flight to reach a final status, then reports the rest itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { Logger } from '@voxfleet/logger';
import type { CarrierStatusEvent } from '@voxfleet/schema';

import {
  finishAttempt,
  launchAttempt,
  report,
  type AttemptContext,
  type FinalStatus,
} from './attempt-runner.js';
import { CallAdopter, type EventOutcome } from './adoption.js';
import type { ClaimedAttempt, InvalidAttempt } from './bridge-client.js';
import { CallAttempt } from './call-attempt.js';

export interface LoopSettings {
  pool: string;
  pacingIntervalMs: number;
  maxInFlight: number;
  attemptTimeoutMs: number;
  /** The bridge and the registry count as reachable for this long after their last response. */
  readyWindowMs: number;
}

export type { EventOutcome } from './adoption.js';

export type LoopState = 'idle' | 'running' | 'draining' | 'stopped';

export class DiallerLoop {
  private readonly attempts = new Map<string, CallAttempt>();
  /** Finishing work (cancel, release) started outside a tick, awaited by `drain()`. */
  private readonly tasks = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private currentTick: Promise<void> | null = null;
  /** False once `drain()` has ended the pacing ticks, so no tick is scheduled again. */
  private ticking = true;
  private lastRegistryOkAt = -Infinity;
  private lastBridgeOkAt = -Infinity;
  private readonly adopter: CallAdopter;
  state: LoopState = 'idle';

  constructor(
    private readonly ctx: AttemptContext,
    private readonly settings: LoopSettings,
    private readonly log: Logger,
  ) {
    this.adopter = new CallAdopter(ctx, log, {
      isRunning: () => this.state === 'running',
      find: (callId) => this.attempts.get(callId),
      track: (attempt) => this.track(attempt),
      applyEvent: (attempt, event) => this.applyEvent(attempt, event),
    });
  }

  get inFlight(): number {
    return this.attempts.size;
  }

  /** True when the bridge and the registry responded within the ready window and no drain runs. */
  get ready(): boolean {
    const now = this.ctx.now();
    return (
      this.state === 'running' &&
      now - this.lastRegistryOkAt <= this.settings.readyWindowMs &&
      now - this.lastBridgeOkAt <= this.settings.readyWindowMs
    );
  }

  /** Records a response from voxbridge. `BridgeClient` calls it after each one. */
  markBridgeReachable(): void {
    this.lastBridgeOkAt = this.ctx.now();
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.schedule(0);
  }

  /**
   * Applies a verified carrier event. Duplicates and events for finished calls change
   * nothing. An event for a call not in memory adopts it when voxbridge lists it as live.
   */
  async handleCarrierEvent(event: CarrierStatusEvent): Promise<EventOutcome> {
    const attempt =
      this.attempts.get(event.callId) ?? (await this.adopter.adoptForEvent(event.callId));
    if (typeof attempt === 'string') return attempt;
    return this.applyEvent(attempt, event);
  }

  private applyEvent(attempt: CallAttempt, event: CarrierStatusEvent): EventOutcome {
    attempt.carrierCallId ??= event.carrierCallId;

    const action = attempt.applyCarrierStatus(event.status);
    switch (action.kind) {
      case 'ignore':
        return 'duplicate';
      case 'report':
        report(this.ctx, attempt.callId, {
          status: action.status,
          at: event.at,
          workerId: attempt.workerId ?? undefined,
          carrierCallId: event.carrierCallId,
        });
        return 'applied';
      case 'finish':
        this.finish(attempt, action.status, event.reason);
        return 'applied';
    }
  }

  /**
   * Stops claiming and waits up to `timeoutMs` for attempts in flight to end. Attempts still
   * live after that are reported by the dialler: unanswered ones as `failed`, answered ones
   * as `completed`. Then waits for queued reports up to `flushTimeoutMs`.
   */
  async drain(timeoutMs: number, flushTimeoutMs: number): Promise<void> {
    if (this.state === 'stopped' || this.state === 'draining') return;
    this.state = 'draining';
    if (this.currentTick !== null) await this.currentTick;
    this.log.info({ inFlight: this.attempts.size }, 'draining');

    const deadline = this.ctx.now() + timeoutMs;
    while (this.attempts.size > 0 && this.ctx.now() < deadline) {
      await sleep(Math.min(50, this.settings.pacingIntervalMs));
    }

    for (const attempt of [...this.attempts.values()]) {
      if (!attempt.advance('final')) continue;
      // NOTE: an answered call may still be running on its worker, and the worker's result can
      // turn this `completed` into `failed` or `aborted` on voxbridge.
      const status = attempt.answered ? 'completed' : 'failed';
      this.log.warn({ callId: attempt.callId, status }, 'attempt ended by shutdown');
      this.finish(attempt, status, 'dialler-shutdown');
    }

    this.ticking = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.currentTick !== null) await this.currentTick;
    await Promise.all([...this.tasks]);
    const flushDeadline = new AbortController();
    const flushed = await Promise.race([
      this.ctx.outbox.flush().then(() => true),
      sleep(flushTimeoutMs, false, { signal: flushDeadline.signal }).catch(() => false),
    ]);
    flushDeadline.abort();
    if (!flushed) {
      this.log.error({ pendingCalls: this.ctx.outbox.pendingCalls }, 'status reports undelivered');
    }
    this.state = 'stopped';
    this.log.info({}, 'drained');
  }

  private schedule(delayMs: number): void {
    if (!this.ticking) return;
    this.timer = setTimeout(() => {
      this.currentTick = this.tick().finally(() => {
        this.currentTick = null;
        this.schedule(this.settings.pacingIntervalMs);
      });
    }, delayMs);
  }

  private async tick(): Promise<void> {
    const endTimer = this.ctx.metrics.tickDuration.startTimer();
    try {
      this.endOverdueAttempts();
      if (this.state === 'running' && !this.adopter.adopted) await this.adopter.adoptOpenCalls();
      if (this.state === 'running' && this.adopter.adopted) await this.claimAndLaunch();
      if (this.ctx.now() - this.lastBridgeOkAt > this.settings.readyWindowMs / 2) {
        await this.ctx.bridge.ping();
      }
    } catch (err) {
      this.log.warn({ err }, 'pacing tick failed');
    } finally {
      endTimer();
    }
  }

  private async claimAndLaunch(): Promise<void> {
    const slots = await this.ctx.registry.list(this.settings.pool);
    this.lastRegistryOkAt = this.ctx.now();
    const idle = slots.filter((slot) => slot.state === 'idle' && !slot.draining).length;
    const limit = Math.min(idle, this.settings.maxInFlight - this.attempts.size);
    if (limit <= 0) return;

    const endClaimTimer = this.ctx.metrics.claimDuration.startTimer();
    const { attempts: claimed, invalid } = await this.ctx.bridge.claim(limit);
    endClaimTimer();
    this.rejectInvalidAttempts(invalid);

    // voxbridge must not return more than the limit, so any extra attempt goes straight back.
    for (const extra of claimed.slice(limit)) {
      this.log.warn({ callId: extra.callId, limit }, 'claim returned more attempts than the limit');
      this.ctx.outbox.enqueue(extra.callId, 'requeue', () =>
        this.ctx.bridge.requeue(extra.callId, 'over-claim'),
      );
    }
    await Promise.all(claimed.slice(0, limit).map((claim) => this.launch(claim)));
  }

  /**
   * Ends claimed attempts that fail validation, such as a number that is not E.164, as
   * `failed` with the contact final, since claiming them again would fail the same way.
   */
  private rejectInvalidAttempts(invalid: InvalidAttempt[]): void {
    for (const { callId, problems } of invalid) {
      this.log.error({ callId, problems }, 'claimed attempt invalid');
      if (callId === null) continue;
      this.ctx.metrics.attempts.inc({ status: 'failed' });
      report(this.ctx, callId, {
        status: 'failed',
        at: new Date(this.ctx.now()).toISOString(),
        reason: `invalid-attempt: ${problems}`.slice(0, 500),
        contact: { decision: 'failed' },
      });
    }
  }

  private async launch(claim: ClaimedAttempt): Promise<void> {
    if (this.attempts.has(claim.callId)) {
      this.log.warn({ callId: claim.callId }, 'claimed attempt already in flight');
      return;
    }
    const attempt = new CallAttempt(claim);
    this.track(attempt);
    const placed = await launchAttempt(this.ctx, attempt);
    if (!placed) this.forget(attempt);
  }

  /** Ends attempts placed longer ago than `attemptTimeoutMs` without a final carrier status. */
  private endOverdueAttempts(): void {
    const now = this.ctx.now();
    for (const attempt of this.attempts.values()) {
      if (attempt.placedAt === null || now - attempt.placedAt < this.settings.attemptTimeoutMs) {
        continue;
      }
      const phase = attempt.phase;
      if (!attempt.advance('final')) continue;
      this.log.warn(
        { callId: attempt.callId, carrierCallId: attempt.carrierCallId, phase },
        'attempt timed out',
      );
      this.finish(attempt, 'failed', 'attempt-timeout');
    }
  }

  private finish(attempt: CallAttempt, status: FinalStatus, reason?: string): void {
    this.forget(attempt);
    this.adopter.settle(attempt.callId);
    const task = finishAttempt(this.ctx, attempt, status, reason).catch((err: unknown) => {
      this.log.error({ err, callId: attempt.callId }, 'attempt finish failed');
    });
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }

  private track(attempt: CallAttempt): void {
    this.attempts.set(attempt.callId, attempt);
    this.ctx.metrics.inFlight.set(this.attempts.size);
  }

  private forget(attempt: CallAttempt): void {
    if (this.attempts.get(attempt.callId) === attempt) this.attempts.delete(attempt.callId);
    this.ctx.metrics.inFlight.set(this.attempts.size);
  }
}
