/**
 * Carrier interface of the dialler. Status changes come back separately, as
 * `CarrierStatusEvent`s posted to the dialler's `POST /carrier/status`.
 */
import type { PlaceCallRequestInput } from '@voxfleet/schema';

export interface PlacedCall {
  /** The carrier's id for the call, echoed in its status events. */
  carrierCallId: string;
}

export interface Carrier {
  readonly name: string;
  /** Asks the carrier to dial; raises `DIALLER_CARRIER_FAILED` when it does not accept. */
  placeCall(request: PlaceCallRequestInput): Promise<PlacedCall>;
}
