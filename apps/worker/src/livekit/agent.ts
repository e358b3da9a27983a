/** Helpers shared by the LiveKit routes: the agent's access token and freeing the slot. */
import type { Logger } from '@voxfleet/logger';
import { AccessToken } from 'livekit-server-sdk';
import type { Worker } from '../worker.js';
import type { LiveKitConfig } from './config.js';

/** Lifetime of the agent's access token; it only needs to outlive the join. */
const AGENT_TOKEN_TTL = '10m';

/** Signs a token that lets this worker join `room`, publish the bot's audio and subscribe. */
export function createAgentToken(
  config: LiveKitConfig,
  workerId: string,
  room: string,
): Promise<string> {
  const token = new AccessToken(config.apiKey, config.apiSecret, {
    identity: `agent-${workerId}`,
    ttl: AGENT_TOKEN_TTL,
  });
  token.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true });
  return token.toJwt();
}

/** Gives the slot back; a call whose stream already started is aborted instead. */
export async function freeSlot(
  worker: Worker,
  callId: string,
  reservationToken: string,
  log: Logger,
): Promise<void> {
  try {
    await worker.cancel(callId, { reservationToken, reason: 'livekit-setup-failed' });
  } catch (err) {
    log.warn({ err }, 'cancel after failed livekit setup failed; aborting the call');
    worker.abortCall('livekit-setup-failed');
    await worker.whenCallEnded();
  }
}
