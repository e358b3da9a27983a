/**
 * The steps of one call attempt that touch other services: reserve a slot, attach the
 * worker, place the call, and on a final status cancel, release and report.
 */
import type { Logger } from '@voxfleet/logger';
import type { CapacityRegistry, Reservation } from '@voxfleet/registry';
import type { AttachResponse, CallStatus } from '@voxfleet/schema';

import type { BridgeClient, StatusReport } from './bridge-client.js';
import type { CallAttempt } from './call-attempt.js';
import type { Carrier } from './carriers/types.js';
import type { DiallerMetrics } from './metrics.js';
import { decideContact, type RetryPolicyOptions } from './retry-policy.js';
import type { StatusOutbox } from './status-outbox.js';
import type { WorkerClient } from './worker-client.js';

/** The worker waits this much longer than the ring timeout for the media stream. */
export const STREAM_TIMEOUT_MARGIN_MS = 15_000;
/** Upper bound of `AttachRequest.streamTimeoutMs`. */
const MAX_STREAM_TIMEOUT_MS = 300_000;
/** Slots tried per attempt: the first, and one more after an attach failure. */
const SLOT_TRIES = 2;

export interface AttemptSettings {
  pool: string;
  reservationTtlMs: number;
  ringTimeoutMs: number;
  statusCallbackUrl: string;
  retryPolicy: RetryPolicyOptions;
}

export interface AttemptContext {
  registry: CapacityRegistry;
  bridge: BridgeClient;
  outbox: StatusOutbox;
  workers: WorkerClient;
  carrier: Carrier;
  metrics: DiallerMetrics;
  log: Logger;
  settings: AttemptSettings;
  now: () => number;
}

interface Attached {
  reservation: Reservation;
  response: AttachResponse;
}

/** Reason an attempt goes back to voxbridge unplaced. */
type RequeueReason = 'no-capacity' | 'attach-failed' | 'registry-error';

export type FinalStatus = Extract<CallStatus, 'completed' | 'busy' | 'no-answer' | 'failed'>;

/**
 * Reserves, attaches and places `attempt`. Returns false when the attempt was handed back
 * to voxbridge or ended before the carrier took it; the caller then forgets it.
 */
export async function launchAttempt(ctx: AttemptContext, attempt: CallAttempt): Promise<boolean> {
  const { callId } = attempt;
  const log = ctx.log.child({ callId, campaignId: attempt.claim.campaignId });

  let attached: Attached | RequeueReason;
  try {
    attached = await reserveAndAttach(ctx, attempt, log);
  } catch (err) {
    log.warn({ err }, 'slot reservation failed');
    attached = 'registry-error';
  }
  if (typeof attached === 'string') {
    const reason = attached;
    ctx.outbox.enqueue(callId, 'requeue', () => ctx.bridge.requeue(callId, reason));
    return false;
  }

  attempt.reservation = attached.reservation;
  attempt.workerId = attached.response.workerId;
  attempt.advance('placing');
  report(ctx, callId, { status: 'dialling', at: isoNow(ctx), workerId: attempt.workerId });

  try {
    const placed = await ctx.carrier.placeCall({
      callId,
      to: attempt.claim.to,
      from: attempt.claim.campaign.callerId,
      streamUrl: attached.response.streamUrl,
      statusCallbackUrl: ctx.settings.statusCallbackUrl,
      customParameters: { callId, botId: attempt.claim.botId },
      scenario: attempt.claim.scenario,
      ringTimeoutMs: ctx.settings.ringTimeoutMs,
    });
    attempt.carrierCallId = placed.carrierCallId;
    attempt.placedAt = ctx.now();
    attempt.advance('dialling');
    log.info({ carrierCallId: placed.carrierCallId, workerId: attempt.workerId }, 'call placed');
    return true;
  } catch (err) {
    log.warn({ err }, 'carrier did not place call');
    if (attempt.advance('final')) await finishAttempt(ctx, attempt, 'failed', 'carrier-rejected');
    return false;
  }
}

async function reserveAndAttach(
  ctx: AttemptContext,
  attempt: CallAttempt,
  log: Logger,
): Promise<Attached | RequeueReason> {
  const { claim } = attempt;
  // A rejected slot stays reserved until the next reserve returns, so the registry cannot
  // hand the same worker back for the second try.
  const rejected: Reservation[] = [];
  try {
    for (let slotTry = 1; slotTry <= SLOT_TRIES; slotTry += 1) {
      const reservation = await ctx.registry.reserve({
        pool: ctx.settings.pool,
        callId: claim.callId,
        tenantId: claim.tenantId,
        campaignId: claim.campaignId,
        reservationTtlMs: ctx.settings.reservationTtlMs,
      });
      if (reservation === null) {
        ctx.metrics.reserveFailures.inc();
        log.warn({ slotTry }, 'no idle slot to reserve');
        return slotTry === 1 ? 'no-capacity' : 'attach-failed';
      }

      attempt.advance('attaching');
      try {
        const response = await ctx.workers.attach(reservation.url, {
          reservationToken: reservation.token,
          callId: claim.callId,
          botId: claim.botId,
          tenantId: claim.tenantId,
          campaignId: claim.campaignId,
          contactId: claim.contactId,
          to: claim.to,
          streamTimeoutMs: Math.min(
            ctx.settings.ringTimeoutMs + STREAM_TIMEOUT_MARGIN_MS,
            MAX_STREAM_TIMEOUT_MS,
          ),
        });
        return { reservation, response };
      } catch (err) {
        ctx.metrics.attachFailures.inc();
        log.warn({ err, workerId: reservation.workerId, slotTry }, 'attach failed');
        rejected.push(reservation);
      }
    }
    return 'attach-failed';
  } finally {
    for (const reservation of rejected) await releaseSlot(ctx, reservation, log);
  }
}

/**
 * Ends an attempt whose phase the caller already moved to `final`: frees the worker unless
 * the call was answered (the worker then releases its own slot), and reports the status
 * with the contact decision.
 */
export async function finishAttempt(
  ctx: AttemptContext,
  attempt: CallAttempt,
  status: FinalStatus,
  reason?: string,
): Promise<void> {
  const log = ctx.log.child({ callId: attempt.callId, workerId: attempt.workerId });
  const reservation = attempt.reservation;

  if (!attempt.answered && reservation !== null) {
    try {
      await ctx.workers.cancel(reservation.url, attempt.callId, {
        reservationToken: reservation.token,
        reason: reason ?? status,
      });
    } catch (err) {
      log.warn({ err }, 'attach cancel failed');
    }
    await releaseSlot(ctx, reservation, log);
  }

  // One clock reading for both, so `nextAttemptAt - at` is exactly the backoff.
  const now = ctx.now();
  const contact = decideContact(
    {
      status,
      attempt: attempt.claim.attempt,
      maxAttempts: attempt.claim.campaign.maxAttempts,
      retryBackoffMs: attempt.claim.campaign.retryBackoffMs,
      now,
    },
    ctx.settings.retryPolicy,
  );
  ctx.metrics.attempts.inc({ status });
  log.info({ status, reason, decision: contact.decision }, 'attempt finished');

  report(ctx, attempt.callId, {
    status,
    at: new Date(now).toISOString(),
    reason,
    workerId: attempt.workerId ?? undefined,
    carrierCallId: attempt.carrierCallId ?? undefined,
    contact,
  });
}

/** Queues a status report for in-order delivery. */
export function report(ctx: AttemptContext, callId: string, body: StatusReport): void {
  ctx.outbox.enqueue(callId, `status ${body.status}`, () => ctx.bridge.reportStatus(callId, body));
}

async function releaseSlot(
  ctx: AttemptContext,
  reservation: Reservation,
  log: Logger,
): Promise<void> {
  try {
    await ctx.registry.release(reservation.workerId, reservation.token);
  } catch (err) {
    // The reservation lapses at its deadline anyway.
    log.warn({ err, workerId: reservation.workerId }, 'slot release failed');
  }
}

function isoNow(ctx: AttemptContext): string {
  return new Date(ctx.now()).toISOString();
}
