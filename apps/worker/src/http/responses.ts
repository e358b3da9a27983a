/** JSON helpers for the worker's node:http edge: body reading with a size cap, replies. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTP_STATUS_BY_CODE, WorkerError } from '../errors.js';

/** Largest request body accepted; an `AttachRequest` is well under 2 KiB. */
export const MAX_BODY_BYTES = 16 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Replies `{ error: { code, message } }` with the status mapped from the code. */
export function sendError(res: ServerResponse, err: WorkerError): void {
  sendJson(res, HTTP_STATUS_BY_CODE[err.code], {
    error: { code: err.code, message: err.message },
  });
}

/** Reads and parses a JSON body; throws WorkerError on a wrong type, size or syntax. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('application/json')) {
    throw new WorkerError('INVALID_REQUEST', 'content-type must be application/json');
  }
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_BODY_BYTES) {
    throw new WorkerError('PAYLOAD_TOO_LARGE', `body is larger than ${MAX_BODY_BYTES} bytes`);
  }

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      throw new WorkerError('PAYLOAD_TOO_LARGE', `body is larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }

  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new WorkerError('INVALID_REQUEST', 'body is not valid JSON', { cause: err });
  }
}
