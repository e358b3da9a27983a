/**
 * JSON over HTTP with a timeout, and a retry loop with exponential backoff for errors
 * marked `retryable` (no response, 5xx, 429).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { z } from 'zod';

import { DiallerError, HttpRequestError, HttpStatusError, isRetryable } from './errors.js';

export interface JsonRequest {
  method: 'GET' | 'POST';
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs: number;
}

/** Sends the request and returns the parsed JSON body (undefined when empty). */
export async function requestJson(request: JsonRequest): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  let payload: string | undefined;
  if (request.body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(request.body);
  }

  let response: Response;
  let text: string;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers,
      body: payload,
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    text = await response.text();
  } catch (err) {
    throw new HttpRequestError(request.url, err);
  }

  if (!response.ok) throw new HttpStatusError(request.url, response.status, text.slice(0, 500));
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new DiallerError('DIALLER_INVALID_RESPONSE', `response from ${request.url} is not JSON`, {
      cause: err,
      details: { url: request.url },
    });
  }
}

/** Parses `value` with `schema`, raising `DIALLER_INVALID_RESPONSE` that names the URL. */
export function parseResponse<T extends z.ZodType>(
  schema: T,
  value: unknown,
  url: string,
): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new DiallerError(
      'DIALLER_INVALID_RESPONSE',
      `invalid response from ${url}: ${problems}`,
      {
        details: { url },
      },
    );
  }
  return result.data;
}

export interface RetryOptions {
  /** Total tries including the first; `Infinity` retries until success or `signal` aborts. */
  maxTries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, tryNumber: number, delayMs: number) => void;
}

/** Runs `task` until it succeeds, raises a non-retryable error or runs out of tries. */
export async function withRetry<T>(task: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let tryNumber = 1; ; tryNumber += 1) {
    try {
      return await task();
    } catch (err) {
      if (!isRetryable(err) || tryNumber >= options.maxTries) throw err;
      if (options.signal?.aborted === true) {
        throw new DiallerError('DIALLER_STOPPED', 'retry abandoned because the dialler stopped', {
          cause: err,
        });
      }
      const delayMs = Math.min(options.baseDelayMs * 2 ** (tryNumber - 1), options.maxDelayMs);
      options.onRetry?.(err, tryNumber, delayMs);
      try {
        await sleep(delayMs, undefined, { signal: options.signal });
      } catch {
        throw new DiallerError('DIALLER_STOPPED', 'retry abandoned because the dialler stopped', {
          cause: err,
        });
      }
    }
  }
}
