/**
 * The worker's client for voxbridge's internal routes: runtime config, recording upload and
 * result post. Every request carries the internal token and a timeout.
 */
import type { CallResult, RuntimeConfig } from '@voxfleet/schema';
import { WorkerError } from './errors.js';
import { sendHttpRequest, type HttpResponse } from './http-client.js';

export interface BridgeClientOptions {
  baseUrl: string;
  internalToken: string;
  /** Timeout of one request. */
  timeoutMs: number;
}

/** How voxbridge responded to a delivery; `status` is 0 when no response arrived. */
export type DeliveryResponse =
  | { kind: 'accepted'; status: number; body: unknown }
  | { kind: 'conflict' | 'not-found' | 'rejected' | 'retry'; status: number; message: string };

export class BridgeClient {
  readonly #options: BridgeClientOptions;

  constructor(options: BridgeClientOptions) {
    this.#options = options;
  }

  /** Fetches a bot's runtime config, retrying once after a network error, timeout or 5xx. */
  async fetchRuntimeConfig(botId: string, callId: string): Promise<RuntimeConfig> {
    const url = this.#url(`/internal/bots/${encodeURIComponent(botId)}/runtime-config`);
    let lastError: unknown;
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        const response = await sendHttpRequest(url, {
          method: 'GET',
          headers: this.#headers(),
          timeoutMs: this.#options.timeoutMs,
        });
        if (response.status >= 500) {
          lastError = new Error(`voxbridge returned ${response.status}`);
          continue;
        }
        if (response.status < 200 || response.status > 299) {
          throw new WorkerError(
            'BRIDGE_REQUEST_FAILED',
            `runtime config for bot ${botId} failed with status ${response.status}`,
            { callId },
          );
        }
        const body: unknown = JSON.parse(response.text);
        // Loaded at the first call rather than at startup, like the stream protocols.
        const { checkRuntimeConfig } = await import('./runtime-config.js');
        const checked = checkRuntimeConfig(body);
        if (!checked.ok) {
          throw new WorkerError(
            'BRIDGE_REQUEST_FAILED',
            `runtime config for bot ${botId} is invalid: ${checked.message}`,
            { callId },
          );
        }
        return checked.value;
      } catch (err) {
        if (err instanceof WorkerError) throw err;
        lastError = err;
      }
    }
    throw new WorkerError(
      'BRIDGE_REQUEST_FAILED',
      `runtime config for bot ${botId} failed after 2 attempts`,
      { callId, cause: lastError, retryable: true },
    );
  }

  /** Uploads a call's WAV recording; an accepted response carries the storage key. */
  async uploadRecording(callId: string, wav: Buffer): Promise<DeliveryResponse> {
    const url = this.#url(`/internal/calls/${encodeURIComponent(callId)}/recording`);
    return this.#deliver(url, 'PUT', 'audio/wav', wav);
  }

  async postResult(result: CallResult): Promise<DeliveryResponse> {
    const url = this.#url(`/internal/calls/${encodeURIComponent(result.callId)}/result`);
    return this.#deliver(url, 'POST', 'application/json', JSON.stringify(result));
  }

  /** Reads the storage key from an upload response, or null when the body has none. */
  static readRecordingKey(body: unknown): string | null {
    const key = typeof body === 'object' && body !== null ? (body as { key?: unknown }).key : null;
    return typeof key === 'string' && key !== '' ? key : null;
  }

  async #deliver(
    url: string,
    method: 'PUT' | 'POST',
    contentType: string,
    body: Buffer | string,
  ): Promise<DeliveryResponse> {
    let response: HttpResponse;
    try {
      response = await sendHttpRequest(url, {
        method,
        headers: { ...this.#headers(), 'content-type': contentType },
        body,
        timeoutMs: this.#options.timeoutMs,
      });
    } catch (err) {
      return { kind: 'retry', status: 0, message: (err as Error).message };
    }

    const { status, text } = response;
    if (status >= 200 && status <= 299) return { kind: 'accepted', status, body: parseJson(text) };

    const message = text.slice(0, 500);
    if (status === 409) return { kind: 'conflict', status: 409, message };
    if (status === 404) return { kind: 'not-found', status: 404, message };
    // 408 and 429 mean "try again later" even though they are 4xx.
    if (status >= 500 || status === 408 || status === 429) {
      return { kind: 'retry', status, message };
    }
    return { kind: 'rejected', status, message };
  }

  #url(path: string): string {
    return new URL(path, this.#options.baseUrl).toString();
  }

  #headers(): Record<string, string> {
    return { authorization: `Bearer ${this.#options.internalToken}` };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
