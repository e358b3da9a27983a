/**
 * Places an inbound call on a worker with the dialler's sequence: reserve a slot in the
 * capacity registry, `POST {workerUrl}/attach`, and on a rejected attach release that slot
 * and try one more. The registry opens on the first call that needs it, and again after a
 * failed open.
 */
import type { Logger } from '@voxfleet/logger';
import { RegistryQuotaExceededError } from '@voxfleet/registry';
import type { CapacityRegistry, Reservation, ReserveRequest } from '@voxfleet/registry';
import { AttachRequest, AttachResponse } from '@voxfleet/schema';

/** Slots tried per call: the first, and one more after an attach failure (as the dialler). */
const SLOT_TRIES = 2;

export interface InboundPlacerOptions {
  /** Null when voxbridge runs without REGISTRY_URL: every call gets the busy response. */
  openRegistry: (() => Promise<CapacityRegistry>) | null;
  logger: Logger;
  /** Registry pool of the workers that take inbound calls. */
  pool: string;
  /** The reservation lapses unless the worker confirms it within this time. */
  reservationTtlMs: number;
  /** How long the worker waits for the carrier to open the media stream. */
  streamTimeoutMs: number;
  /** Live calls one tenant may hold in the pool at once; no limit when undefined. */
  tenantMaxCalls?: number | undefined;
  /** Timeout of one attach request. Defaults to 5000. */
  attachTimeoutMs?: number;
}

export interface InboundPlacementRequest {
  callId: string;
  tenantId: string;
  botId: string;
  /** The dialled number, in E.164 form. */
  to: string;
}

/** Reason a call found no worker, stored as the call's reason. */
export type NoWorkerReason = 'no-capacity' | 'tenant-quota' | 'attach-failed' | 'registry-error';

export type InboundPlacement =
  | { placed: true; workerId: string; streamUrl: string; reservationToken: string }
  | { placed: false; reason: NoWorkerReason };

export class InboundPlacer {
  readonly #options: InboundPlacerOptions;
  #registry: Promise<CapacityRegistry> | null = null;
  #stopped = false;

  constructor(options: InboundPlacerOptions) {
    this.#options = options;
  }

  /** Closes the registry if it was opened. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const opening = this.#registry;
    this.#registry = null;
    const registry = await opening?.catch(() => null);
    await registry?.close();
  }

  async place(request: InboundPlacementRequest): Promise<InboundPlacement> {
    const log = this.#options.logger.child({ callId: request.callId, tenantId: request.tenantId });
    let registry: CapacityRegistry | null;
    try {
      registry = await this.#openRegistry();
    } catch (err) {
      log.error({ err }, 'registry open failed');
      return { placed: false, reason: 'registry-error' };
    }
    if (registry === null) return { placed: false, reason: 'no-capacity' };

    const rejected: Reservation[] = [];
    try {
      for (let slotTry = 1; slotTry <= SLOT_TRIES; slotTry += 1) {
        const reservedAt = new Date();
        let reservation: Reservation | null;
        try {
          reservation = await registry.reserve(this.#reserveRequest(request));
        } catch (err) {
          if (err instanceof RegistryQuotaExceededError) {
            log.warn({ limit: this.#options.tenantMaxCalls }, 'tenant quota reached');
            return { placed: false, reason: 'tenant-quota' };
          }
          log.error({ err, slotTry }, 'slot reservation failed');
          return { placed: false, reason: 'registry-error' };
        }
        if (reservation === null) {
          log.warn({ slotTry }, 'no idle slot to reserve');
          return { placed: false, reason: slotTry === 1 ? 'no-capacity' : 'attach-failed' };
        }

        try {
          const response = await this.#attach(reservation, request, reservedAt);
          return {
            placed: true,
            workerId: response.workerId,
            streamUrl: response.streamUrl,
            reservationToken: reservation.token,
          };
        } catch (err) {
          log.warn({ err, workerId: reservation.workerId, slotTry }, 'attach failed');
          rejected.push(reservation);
        }
      }
      return { placed: false, reason: 'attach-failed' };
    } finally {
      // A rejected slot stays reserved until the next reserve returns, so the registry
      // cannot hand the same worker back for the second try.
      for (const reservation of rejected) {
        await registry.release(reservation.workerId, reservation.token).catch((err: unknown) => {
          // The reservation lapses at its deadline anyway.
          log.warn({ err, workerId: reservation.workerId }, 'slot release failed');
        });
      }
    }
  }

  #openRegistry(): Promise<CapacityRegistry | null> {
    const open = this.#options.openRegistry;
    if (open === null || this.#stopped) return Promise.resolve(null);
    if (this.#registry === null) {
      const opening = open();
      // A failed open is forgotten, so the next call tries again.
      opening.catch(() => {
        if (this.#registry === opening) this.#registry = null;
      });
      this.#registry = opening;
    }
    return this.#registry;
  }

  #reserveRequest(request: InboundPlacementRequest): ReserveRequest {
    const limit = this.#options.tenantMaxCalls;
    return {
      pool: this.#options.pool,
      callId: request.callId,
      tenantId: request.tenantId,
      reservationTtlMs: this.#options.reservationTtlMs,
      ...(limit === undefined ? {} : { quotas: { tenant: { id: request.tenantId, limit } } }),
    };
  }

  async #attach(
    reservation: Reservation,
    request: InboundPlacementRequest,
    reservedAt: Date,
  ): Promise<AttachResponse> {
    const body = AttachRequest.parse({
      reservationToken: reservation.token,
      callId: request.callId,
      botId: request.botId,
      tenantId: request.tenantId,
      campaignId: null,
      contactId: null,
      to: request.to,
      streamTimeoutMs: this.#options.streamTimeoutMs,
      reservedAt: reservedAt.toISOString(),
    });
    const url = `${reservation.url.replace(/\/+$/, '')}/attach`;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.#options.attachTimeoutMs ?? 5_000),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`attach to ${url} returned HTTP ${response.status}: ${text.slice(0, 200)}`);
    }
    return AttachResponse.parse(JSON.parse(text));
  }
}
