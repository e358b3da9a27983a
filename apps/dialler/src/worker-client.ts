/**
 * Calls a worker's attach routes: `POST {url}/attach` and `POST {url}/attach/{callId}/cancel`.
 */
import {
  AttachCancelRequest,
  AttachRequest,
  AttachResponse,
  type AttachRequestInput,
} from '@voxfleet/schema';

import { DiallerError, HttpStatusError } from './errors.js';
import { parseResponse, requestJson, withRetry } from './http-json.js';

/** Worker error codes by HTTP status, as the worker routes define them. */
const ATTACH_REJECTIONS: Record<number, string> = {
  409: 'WORKER_BUSY',
  403: 'RESERVATION_INVALID',
  503: 'WORKER_DRAINING',
};

export class WorkerClient {
  constructor(private readonly timeoutMs = 5_000) {}

  /**
   * Attaches the call to the worker at `workerUrl`. A rejection (409, 403, 503), any other
   * failed response and a network error all raise `DIALLER_ATTACH_REJECTED`, since the
   * dialler handles them alike: it releases the slot and tries another.
   */
  async attach(workerUrl: string, request: AttachRequestInput): Promise<AttachResponse> {
    const body = AttachRequest.parse(request);
    const url = `${workerUrl.replace(/\/+$/, '')}/attach`;
    try {
      const response = await requestJson({ method: 'POST', url, body, timeoutMs: this.timeoutMs });
      return parseResponse(AttachResponse, response, url);
    } catch (err) {
      const status = err instanceof HttpStatusError ? err.status : undefined;
      const reason =
        status === undefined
          ? 'no usable response'
          : (ATTACH_REJECTIONS[status] ?? `HTTP ${status}`);
      throw new DiallerError(
        'DIALLER_ATTACH_REJECTED',
        `attach of call ${body.callId} to ${url} failed: ${reason}`,
        {
          cause: err,
          details: { callId: body.callId, url, status },
        },
      );
    }
  }

  /** Frees a worker whose call was never answered, trying up to 3 times on network errors and 5xx. */
  async cancel(workerUrl: string, callId: string, request: AttachCancelRequest): Promise<void> {
    const body = AttachCancelRequest.parse(request);
    const url = `${workerUrl.replace(/\/+$/, '')}/attach/${encodeURIComponent(callId)}/cancel`;
    await withRetry(() => requestJson({ method: 'POST', url, body, timeoutMs: this.timeoutMs }), {
      maxTries: 3,
      baseDelayMs: 100,
      maxDelayMs: 1_000,
    });
  }
}
