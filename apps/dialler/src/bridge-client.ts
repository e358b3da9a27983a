/**
 * Client for voxbridge's internal dialler routes, authenticated with the internal token.
 *
 * @example
 * const bridge = new BridgeClient({ baseUrl: 'http://127.0.0.1:7700', token });
 * const attempts = await bridge.claim(10);
 */
import { z } from 'zod';
import { CallStatus, PhoneNumber, SimScenario } from '@voxfleet/schema';

import { HttpStatusError } from './errors.js';
import { parseResponse, requestJson, withRetry, type RetryOptions } from './http-json.js';

export const ClaimedAttempt = z.object({
  callId: z.string().min(1),
  attempt: z.number().int().min(1),
  tenantId: z.string().min(1),
  botId: z.string().min(1),
  campaignId: z.string().min(1),
  contactId: z.string().min(1),
  to: PhoneNumber,
  // voxbridge sends null for an absent scenario or caller id.
  scenario: SimScenario.nullish()
    .transform((value) => value ?? undefined)
    .optional(),
  variables: z.record(z.string(), z.unknown()).default({}),
  campaign: z.object({
    maxAttempts: z.number().int().min(1),
    retryBackoffMs: z.number().int().min(0),
    callerId: PhoneNumber.nullish()
      .transform((value) => value ?? undefined)
      .optional(),
  }),
});
export type ClaimedAttempt = z.infer<typeof ClaimedAttempt>;

/** A live call of `GET /internal/dialler/open-calls`: a claim plus the call's current state. */
export const OpenCall = ClaimedAttempt.extend({
  status: CallStatus,
  carrierCallId: z.string().min(1).nullable(),
  workerId: z.string().min(1).nullable(),
  /** ISO 8601 time of the call's last update on voxbridge. */
  updatedAt: z.iso.datetime(),
});
export type OpenCall = z.infer<typeof OpenCall>;

const OpenCallsResponse = z.object({ calls: z.array(z.unknown()) });

export interface OpenCallsResult {
  calls: OpenCall[];
  invalid: InvalidAttempt[];
}

const CallIdOnly = z.object({ callId: z.string().min(1).max(128) });

// Attempts are parsed one by one, so one invalid attempt does not strand the others.
const ClaimResponse = z.object({ attempts: z.array(z.unknown()) });

/** A claimed attempt that failed validation; `callId` is null when even that was unusable. */
export interface InvalidAttempt {
  callId: string | null;
  problems: string;
}

export interface ClaimResult {
  attempts: ClaimedAttempt[];
  invalid: InvalidAttempt[];
}

export interface ContactDecision {
  decision: 'retry' | 'done' | 'failed';
  /** ISO 8601 time, present with `retry`. */
  nextAttemptAt?: string;
}

/** Body of `POST /internal/calls/{callId}/status`. */
export interface StatusReport {
  status: CallStatus;
  /** ISO 8601 time of the state change. */
  at: string;
  reason?: string;
  workerId?: string;
  carrierCallId?: string;
  /** Present with a final status. */
  contact?: ContactDecision;
}

export interface BridgeClientOptions {
  baseUrl: string;
  token: string;
  /** Per-request timeout. */
  requestTimeoutMs?: number;
  /** First and maximum delay between tries of status reports and requeues, which retry until delivered or until `signal` aborts. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Aborting it ends the retry loops of reports still undelivered. */
  signal?: AbortSignal;
  onRetry?: RetryOptions['onRetry'];
  /** Called after every request that got a response, for readiness. */
  onReachable?: () => void;
}

export class BridgeClient {
  private readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly retry: RetryOptions;
  private readonly onReachable: () => void;

  constructor(options: BridgeClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.headers = { authorization: `Bearer ${options.token}` };
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.retry = {
      maxTries: Infinity,
      baseDelayMs: options.retryBaseDelayMs ?? 200,
      maxDelayMs: options.retryMaxDelayMs ?? 10_000,
      signal: options.signal,
      onRetry: options.onRetry,
    };
    this.onReachable = options.onReachable ?? (() => {});
  }

  /**
   * Claims up to `limit` due attempts. A failed claim is not retried here: voxbridge may
   * have committed it before the response was lost, and a second claim would strand those
   * attempts as well. The next pacing tick claims again instead.
   */
  async claim(limit: number): Promise<ClaimResult> {
    const url = `${this.baseUrl}/internal/dialler/claim`;
    const body = await this.post(url, { limit });
    const result: ClaimResult = { attempts: [], invalid: [] };
    for (const item of parseResponse(ClaimResponse, body, url).attempts) {
      const parsed = ClaimedAttempt.safeParse(item);
      if (parsed.success) {
        result.attempts.push(parsed.data);
        continue;
      }
      result.invalid.push(describeInvalid(item, parsed.error));
    }
    return result;
  }

  /**
   * Lists voxbridge's live campaign calls, or only `callId` when given, so a restarted
   * dialler can adopt them. Tried once: callers try again on their next tick or event.
   */
  async openCalls(options: { callId?: string; limit?: number } = {}): Promise<OpenCallsResult> {
    const query = new URLSearchParams({ limit: String(options.limit ?? 1000) });
    if (options.callId !== undefined) query.set('callId', options.callId);
    const url = `${this.baseUrl}/internal/dialler/open-calls?${query.toString()}`;
    const body = await this.get(url);
    const result: OpenCallsResult = { calls: [], invalid: [] };
    for (const item of parseResponse(OpenCallsResponse, body, url).calls) {
      const parsed = OpenCall.safeParse(item);
      if (parsed.success) result.calls.push(parsed.data);
      else result.invalid.push(describeInvalid(item, parsed.error));
    }
    return result;
  }

  /** Delivers a status report, retrying network errors and 5xx until accepted. Idempotent on voxbridge. */
  async reportStatus(callId: string, report: StatusReport): Promise<void> {
    const url = `${this.baseUrl}/internal/calls/${encodeURIComponent(callId)}/status`;
    await withRetry(() => this.post(url, report), this.retry);
  }

  /** Hands an unplaced attempt back, retrying network errors and 5xx until accepted. */
  async requeue(callId: string, reason: string): Promise<void> {
    const url = `${this.baseUrl}/internal/calls/${encodeURIComponent(callId)}/requeue`;
    await withRetry(() => this.post(url, { reason }), this.retry);
  }

  /** Checks that voxbridge responds to `GET /health`. Readiness uses it while nothing is claimed. */
  async ping(): Promise<void> {
    await requestJson({ method: 'GET', url: `${this.baseUrl}/health`, timeoutMs: this.timeoutMs });
    this.onReachable();
  }

  private async get(url: string): Promise<unknown> {
    try {
      const result = await requestJson({
        method: 'GET',
        url,
        headers: this.headers,
        timeoutMs: this.timeoutMs,
      });
      this.onReachable();
      return result;
    } catch (err) {
      if (err instanceof HttpStatusError && err.status < 500) this.onReachable();
      throw err;
    }
  }

  private async post(url: string, body: unknown): Promise<unknown> {
    try {
      const result = await requestJson({
        method: 'POST',
        url,
        body,
        headers: this.headers,
        timeoutMs: this.timeoutMs,
      });
      this.onReachable();
      return result;
    } catch (err) {
      // A 4xx still proves the bridge is up, but a 5xx does not.
      if (err instanceof HttpStatusError && err.status < 500) this.onReachable();
      throw err;
    }
  }
}

function describeInvalid(item: unknown, error: z.ZodError): InvalidAttempt {
  const callId = CallIdOnly.safeParse(item);
  return {
    callId: callId.success ? callId.data.callId : null,
    problems: error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
  };
}
