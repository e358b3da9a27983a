/**
 * One HTTP request on node:http (or node:https), with a timeout and a cap on the response
 * size. The worker uses this rather than the global `fetch`. In Node 20 the first `fetch()`
 * loads undici and compiles its WebAssembly HTTP parser. That adds about 20 MiB of resident
 * memory for the rest of the process, and 40 MiB for a moment (measured on Node 20.20).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';

export interface HttpRequestOptions {
  method: 'GET' | 'POST' | 'PUT';
  headers: Record<string, string>;
  body?: Buffer | string;
  /** Whole request, from connecting to the last byte of the response. */
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  /** The response body as UTF-8 text. */
  text: string;
}

/** Responses above this size are cut off with an error; voxbridge sends a few KiB. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** Sends one request and reads the whole response; rejects on network errors and timeouts. */
export async function sendHttpRequest(
  url: string,
  options: HttpRequestOptions,
): Promise<HttpResponse> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  const headers: Record<string, string | number> = { ...options.headers };
  if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);

  return new Promise<HttpResponse>((resolve, reject) => {
    const req = request(target, {
      method: options.method,
      headers,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy(
            new Error(`response from ${target.host} is larger than ${MAX_RESPONSE_BYTES} bytes`),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(options.body);
  });
}
