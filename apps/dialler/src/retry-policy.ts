/**
 * Contact decision after an attempt's final status.
 *
 * `busy`, `no-answer` and `failed` retry after `retryBackoffMs * 2^(attempt-1)`, capped at
 * `maxBackoffMs` and stretched by up to `jitterRatio`, while `attempt < maxAttempts`;
 * after that the contact is `failed`. Any other final status makes the contact `done`.
 */
import type { CallStatus } from '@voxfleet/schema';

import type { ContactDecision } from './bridge-client.js';

export interface RetryPolicyOptions {
  maxBackoffMs: number;
  /** Up to this fraction of the backoff is added at random, so retries spread out. */
  jitterRatio: number;
  random?: () => number;
}

export interface DecisionInput {
  status: CallStatus;
  attempt: number;
  maxAttempts: number;
  retryBackoffMs: number;
  now: number;
}

const RETRYABLE_STATUSES: readonly CallStatus[] = ['busy', 'no-answer', 'failed'];

export function decideContact(input: DecisionInput, options: RetryPolicyOptions): ContactDecision {
  if (!RETRYABLE_STATUSES.includes(input.status)) return { decision: 'done' };
  if (input.attempt >= input.maxAttempts) return { decision: 'failed' };

  const random = options.random ?? Math.random;
  const backoffMs = Math.min(input.retryBackoffMs * 2 ** (input.attempt - 1), options.maxBackoffMs);
  const delayMs = Math.round(backoffMs * (1 + options.jitterRatio * random()));
  return { decision: 'retry', nextAttemptAt: new Date(input.now + delayMs).toISOString() };
}
