/**
 * The dashboard's client of voxbridge's public API. Every request sends the API key from the
 * login screen as `x-api-key`. The key is kept in sessionStorage, so it is gone when the tab
 * closes.
 */

const KEY_STORAGE = 'voxui.apiKey';

export interface ErrorDetail {
  path?: string;
  line?: number;
  message: string;
}

/** A failed API request, carrying the `{ error: { code, message, details } }` body. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetail[];

  constructor(status: number, code: string, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function storedApiKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeApiKey(key: string): void {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function forgetApiKey(): void {
  sessionStorage.removeItem(KEY_STORAGE);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** Sends `body` as-is with this content type instead of JSON. */
  contentType?: string;
  signal?: AbortSignal;
  /** Overrides the stored key, for the login check. */
  apiKey?: string;
}

/** Sends a request and returns the response when its status is 2xx; raises ApiError otherwise. */
export async function send(path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  const key = options.apiKey ?? storedApiKey();
  if (key !== null) headers['x-api-key'] = key;
  let body: string | undefined;
  if (options.body !== undefined) {
    const raw = options.contentType !== undefined;
    headers['content-type'] = options.contentType ?? 'application/json';
    body = raw ? String(options.body) : JSON.stringify(options.body);
  }
  const init: RequestInit = { method: options.method ?? 'GET', headers };
  if (body !== undefined) init.body = body;
  if (options.signal !== undefined) init.signal = options.signal;
  const response = await fetch(path, init);
  if (!response.ok) throw await errorOf(response);
  return response;
}

/** Sends a request and parses the JSON response body. */
export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(path, options);
  return (await response.json()) as T;
}

async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as {
      error?: { code?: string; message?: string; details?: ErrorDetail[] };
    };
    const error = body.error;
    return new ApiError(
      response.status,
      error?.code ?? 'UNKNOWN',
      error?.message ?? `request failed with HTTP ${response.status}`,
      error?.details ?? [],
    );
  } catch {
    return new ApiError(response.status, 'UNKNOWN', `request failed with HTTP ${response.status}`);
  }
}

/** Returns the message to show for a failure of any kind. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
