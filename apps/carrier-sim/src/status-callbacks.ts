/**
 * Delivers `CarrierStatusEvent`s to the request's `statusCallbackUrl`. A failed delivery
 * (network error, timeout, HTTP 5xx, 408 or 429) is retried with exponential backoff; other
 * HTTP 4xx responses are final. Delivery never throws: a callback receiver that is down is
 * logged and the call goes on.
 */
import type { Logger } from '@voxfleet/logger';
import type { CarrierStatusEvent } from '@voxfleet/schema';

export interface StatusNotifierOptions {
  /** Sent as the `x-carrier-secret` header when set. */
  secret?: string | undefined;
  /** Speed factor; retry delays are divided by it. */
  speed: number;
  /** Attempts per event, the first included. Default 4. */
  maxAttempts?: number;
  /** Delay before the first retry, doubled for each later one. Default 250 ms. */
  retryDelayMs?: number;
  /** Wall-clock limit for one HTTP request. Default 5000 ms. */
  requestTimeoutMs?: number;
  log: Logger;
}

export class StatusNotifier {
  private readonly options: StatusNotifierOptions;
  private readonly aborter = new AbortController();

  constructor(options: StatusNotifierOptions) {
    this.options = options;
  }

  /** Posts the event, retrying on failure. Resolves true once a 2xx response arrived. */
  async deliver(url: string, event: CarrierStatusEvent): Promise<boolean> {
    const maxAttempts = this.options.maxAttempts ?? 4;
    const fields = {
      carrierCallId: event.carrierCallId,
      callId: event.callId,
      status: event.status,
    };

    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (this.aborter.signal.aborted) break;
      const outcome = await this.post(url, event);
      if (outcome.ok) return true;

      const willRetry = outcome.retryable && attempt < maxAttempts;
      this.options.log.warn(
        { ...fields, attempt, maxAttempts, httpStatus: outcome.httpStatus, err: outcome.error },
        willRetry ? 'status callback failed, retrying' : 'status callback failed',
      );
      if (!willRetry) break;
      await this.sleep((this.options.retryDelayMs ?? 250) * 2 ** (attempt - 1));
    }

    if (this.aborter.signal.aborted) {
      this.options.log.warn(fields, 'status callback abandoned at shutdown');
    } else {
      this.options.log.error(fields, 'status callback dropped');
    }
    return false;
  }

  /** Aborts requests in flight and pending retries; later deliveries fail at once. */
  abort(): void {
    this.aborter.abort();
  }

  private async post(
    url: string,
    event: CarrierStatusEvent,
  ): Promise<{ ok: boolean; retryable: boolean; httpStatus?: number; error?: Error }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.secret !== undefined) headers['x-carrier-secret'] = this.options.secret;

    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(event),
        signal: AbortSignal.any([
          this.aborter.signal,
          AbortSignal.timeout(this.options.requestTimeoutMs ?? 5000),
        ]),
      });
      // Reading the body lets the connection go back to the pool.
      await response.arrayBuffer();
      const status = response.status;
      if (status >= 200 && status < 300) return { ok: true, retryable: false };
      return {
        ok: false,
        retryable: status >= 500 || status === 408 || status === 429,
        httpStatus: status,
      };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      return { ok: false, retryable: true, error };
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.aborter.signal;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms / this.options.speed);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
