/**
 * The worker's client for voxbridge's internal routes: runtime config, recording upload and
 * result post. Every request carries the internal token and a timeout.
 */
import { RuntimeConfig, type CallResult } from '@voxfleet/schema';
import { z } from 'zod';
import { WorkerError } from './errors.js';

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

const UploadResponse = z.object({ key: z.string().min(1) });

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
        const response = await fetch(url, {
          headers: this.#headers(),
          signal: AbortSignal.timeout(this.#options.timeoutMs),
        });
        if (response.status >= 500) {
          lastError = new Error(`voxbridge returned ${response.status}`);
          continue;
        }
        if (!response.ok) {
          throw new WorkerError(
            'BRIDGE_REQUEST_FAILED',
            `runtime config for bot ${botId} failed with status ${response.status}`,
            { callId },
          );
        }
        const parsed = RuntimeConfig.safeParse(await response.json());
        if (!parsed.success) {
          throw new WorkerError(
            'BRIDGE_REQUEST_FAILED',
            `runtime config for bot ${botId} is invalid: ${z.prettifyError(parsed.error)}`,
            { callId },
          );
        }
        return parsed.data;
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
    const parsed = UploadResponse.safeParse(body);
    return parsed.success ? parsed.data.key : null;
  }

  async #deliver(
    url: string,
    method: 'PUT' | 'POST',
    contentType: string,
    body: Buffer | string,
  ): Promise<DeliveryResponse> {
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { ...this.#headers(), 'content-type': contentType },
        body,
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
    } catch (err) {
      return { kind: 'retry', status: 0, message: (err as Error).message };
    }

    const text = await response.text().catch(() => '');
    if (response.ok) return { kind: 'accepted', status: response.status, body: parseJson(text) };

    const message = text.slice(0, 500);
    if (response.status === 409) return { kind: 'conflict', status: 409, message };
    if (response.status === 404) return { kind: 'not-found', status: 404, message };
    // 408 and 429 mean "try again later" even though they are 4xx.
    if (response.status >= 500 || response.status === 408 || response.status === 429) {
      return { kind: 'retry', status: response.status, message };
    }
    return { kind: 'rejected', status: response.status, message };
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
