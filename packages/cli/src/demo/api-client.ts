/**
 * A small client for voxbridge's public API, as the demo and tests use it.
 */
import { CliError } from '../errors.js';

export interface ApiClientOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs?: number;
}

/** Tries of a GET: about 15 s of backoff in all. */
const GET_ATTEMPTS = 7;

export class ApiClient {
  readonly #options: ApiClientOptions;

  constructor(options: ApiClientOptions) {
    this.#options = options;
  }

  /**
   * Sends one request. A GET that fails on the network or with a 5xx is retried a few
   * times, so polling survives a voxbridge restart. Other methods are sent once, because
   * repeating them could act twice.
   */
  async request<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const attempts = method === 'GET' ? GET_ATTEMPTS : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#send<T>(method, path, body, contentType);
      } catch (error) {
        const transient =
          error instanceof CliError &&
          (error.code === 'CLI_BRIDGE_UNREACHABLE' || error.code === 'CLI_BRIDGE_5XX');
        if (!transient || attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(4000, 250 * 2 ** attempt)));
      }
    }
  }

  async #send<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#options.apiKey}` };
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = contentType ?? 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetch(`${this.#options.baseUrl}${path}`, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      throw new CliError(
        'CLI_BRIDGE_UNREACHABLE',
        `voxbridge at ${this.#options.baseUrl} is unreachable (${String(error)}); is the stack running? Start it with npm start`,
        { cause: error },
      );
    }
    const text = await response.text();
    const data: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const error = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (response.status >= 500 && error?.code === undefined) {
        throw new CliError('CLI_BRIDGE_5XX', `${method} ${path} failed with ${response.status}`);
      }
      throw new CliError(
        error?.code ?? 'CLI_API_ERROR',
        `${method} ${path} failed with ${response.status}: ${error?.message ?? text}`,
      );
    }
    return data as T;
  }

  /** Downloads a binary resource and returns its bytes. */
  async download(path: string): Promise<Buffer> {
    const response = await fetch(`${this.#options.baseUrl}${path}`, {
      headers: { authorization: `Bearer ${this.#options.apiKey}` },
      signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
    });
    if (!response.ok) {
      throw new CliError('CLI_API_ERROR', `GET ${path} failed with ${response.status}`);
    }
    return Buffer.from(await response.arrayBuffer());
  }
}
