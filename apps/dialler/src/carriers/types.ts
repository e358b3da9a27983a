/**
 * Carrier interface of the dialler. Status changes come back separately, as
 * `CarrierStatusEvent`s posted to the dialler's `POST /carrier/status`.
 */
import type { CarrierCallStatus, PlaceCallRequestInput } from '@voxfleet/schema';

export interface PlacedCall {
  /** The carrier's id for the call, echoed in its status events. */
  carrierCallId: string;
}

/** A call's current state on the carrier, as a restarted dialler reads it. */
export interface CarrierCallState {
  carrierCallId: string;
  callId: string;
  status: CarrierCallStatus;
  /** ISO 8601 time the call ended, when it has. */
  endedAt: string | null;
}

export interface Carrier {
  readonly name: string;
  /** Asks the carrier to dial; raises `DIALLER_CARRIER_FAILED` when it does not accept. */
  placeCall(request: PlaceCallRequestInput): Promise<PlacedCall>;
  /**
   * Reads a call's current state. Returns null when the carrier does not know the call;
   * raises `DIALLER_CARRIER_FAILED` when the carrier returns no usable response.
   */
  getCall(carrierCallId: string): Promise<CarrierCallState | null>;
}
