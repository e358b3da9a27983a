/** Dependencies that every route plugin receives from the bridge. */
import type { BridgeMetrics } from '../http/metrics.js';
import type { RecordingStore } from '../recordings/types.js';
import type { BridgeStore } from '../store/types.js';

export interface RouteDeps {
  store: BridgeStore;
  recordings: RecordingStore;
  metrics: BridgeMetrics;
  internalToken: string;
  adminKey: string | undefined;
  maxRecordingBytes: number;
  /** Base URL carriers reach (BRIDGE_PUBLIC_URL); the request's scheme and host when undefined. */
  publicUrl: string | undefined;
  /** Returns the current time; tests may pin it. */
  now: () => Date;
}
