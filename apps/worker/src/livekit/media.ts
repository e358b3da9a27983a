/**
 * The media side of a LiveKit call: the worker joins the room as the agent and carries the
 * SIP participant's audio to and from the call. The default connector uses
 * `@livekit/rtc-node`, loaded only when a dial-out joins a room.
 */
import type { Logger } from '@voxfleet/logger';
import { WorkerError } from '../errors.js';

export interface LiveKitMediaJoinOptions {
  /** LiveKit server URL (ws or wss). */
  url: string;
  /** Access token of the agent, with a `roomJoin` grant for `room`. */
  token: string;
  room: string;
  /**
   * Identity of the participant whose audio is the caller's side of the call. With null, the
   * first remote participant that publishes audio is the caller, as in an existing call's room.
   */
  sipIdentity: string | null;
  /** This worker's stream URL for the call; the bridge carries the room's audio over it. */
  streamUrl: string;
  callId: string;
  log: Logger;
}

export interface LiveKitMediaSession {
  /** Leaves the room and closes the stream; idempotent. */
  close(): Promise<void>;
}

export interface LiveKitMediaConnector {
  join(options: LiveKitMediaJoinOptions): Promise<LiveKitMediaSession>;
}

/** Loads the `@livekit/rtc-node` connector; throws LIVEKIT_MEDIA_UNAVAILABLE when it cannot. */
export async function loadRtcMediaConnector(): Promise<LiveKitMediaConnector> {
  try {
    const { RtcMediaConnector } = await import('./rtc-bridge.js');
    return new RtcMediaConnector();
  } catch (err) {
    throw new WorkerError(
      'LIVEKIT_MEDIA_UNAVAILABLE',
      `@livekit/rtc-node failed to load, so the worker cannot join LiveKit rooms: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
