/**
 * The `sim` carrier: `POST {baseUrl}/v1/calls` and `GET {baseUrl}/v1/calls/{carrierCallId}`
 * on voxfleet's carrier simulator.
 */
import { z } from 'zod';
import { CarrierCallStatus, PlaceCallRequest, type PlaceCallRequestInput } from '@voxfleet/schema';

import { DiallerError, HttpStatusError } from '../errors.js';
import { parseResponse, requestJson } from '../http-json.js';
import type { Carrier, CarrierCallState, PlacedCall } from './types.js';

const PlaceCallResponse = z.object({ carrierCallId: z.string().min(1) });

/** The fields of the simulator's call snapshot that the dialler reads. */
const CallSnapshot = z.object({
  carrierCallId: z.string().min(1),
  callId: z.string().min(1),
  state: CarrierCallStatus,
  endedAt: z.string().nullable(),
});

export interface SimCarrierOptions {
  baseUrl: string;
  requestTimeoutMs?: number;
  /** Sent as `x-carrier-secret`; the sim carrier requires it when it has one configured. */
  secret?: string | undefined;
  /** Media-stream protocol to request on every call unless the request names one. */
  provider?: PlaceCallRequest['provider'];
}

export class SimCarrier implements Carrier {
  readonly name = 'sim';
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly provider: PlaceCallRequest['provider'];
  private readonly headers: Record<string, string>;

  constructor(options: SimCarrierOptions) {
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/v1/calls`;
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.provider = options.provider;
    this.headers = options.secret === undefined ? {} : { 'x-carrier-secret': options.secret };
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
        headers: this.headers,
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

  async getCall(carrierCallId: string): Promise<CarrierCallState | null> {
    const url = `${this.url}/${encodeURIComponent(carrierCallId)}`;
    try {
      const response = await requestJson({
        method: 'GET',
        url,
        timeoutMs: this.timeoutMs,
        headers: this.headers,
      });
      const snapshot = parseResponse(CallSnapshot, response, url);
      return {
        carrierCallId: snapshot.carrierCallId,
        callId: snapshot.callId,
        status: snapshot.state,
        endedAt: snapshot.endedAt,
      };
    } catch (err) {
      // The simulator evicts the oldest ended calls beyond its limit, and loses every call on restart.
      if (err instanceof HttpStatusError && err.status === 404) return null;
      throw new DiallerError(
        'DIALLER_CARRIER_FAILED',
        `sim carrier lookup of call ${carrierCallId} failed`,
        {
          cause: err,
          retryable: true,
          details: { carrierCallId, url },
        },
      );
    }
  }
}
