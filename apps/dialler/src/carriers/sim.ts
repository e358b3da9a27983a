/**
 * The `sim` carrier: `POST {baseUrl}/v1/calls` on voxfleet's carrier simulator.
 */
import { z } from 'zod';
import { PlaceCallRequest, type PlaceCallRequestInput } from '@voxfleet/schema';

import { DiallerError } from '../errors.js';
import { parseResponse, requestJson } from '../http-json.js';
import type { Carrier, PlacedCall } from './types.js';

const PlaceCallResponse = z.object({ carrierCallId: z.string().min(1) });

export interface SimCarrierOptions {
  baseUrl: string;
  requestTimeoutMs?: number;
  /** Media-stream protocol to request on every call unless the request names one. */
  provider?: PlaceCallRequest['provider'];
}

export class SimCarrier implements Carrier {
  readonly name = 'sim';
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly provider: PlaceCallRequest['provider'];

  constructor(options: SimCarrierOptions) {
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/v1/calls`;
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.provider = options.provider;
  }

  async placeCall(request: PlaceCallRequestInput): Promise<PlacedCall> {
    const provider = request.provider ?? this.provider;
    const body = PlaceCallRequest.parse(
      provider === undefined ? request : { ...request, provider },
    );
    try {
      const response = await requestJson({
        method: 'POST',
        url: this.url,
        body,
        timeoutMs: this.timeoutMs,
      });
      return parseResponse(PlaceCallResponse, response, this.url);
    } catch (err) {
      throw new DiallerError(
        'DIALLER_CARRIER_FAILED',
        `sim carrier did not place call ${body.callId}`,
        {
          cause: err,
          details: { callId: body.callId, url: this.url },
        },
      );
    }
  }
}
