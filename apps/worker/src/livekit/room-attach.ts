/**
 * `POST /attach` with `media: { kind: 'livekit', room }`: attaches this worker to a call
 * that already runs in a LiveKit room, such as an inbound SIP call, and joins the room as
 * the agent. Loaded only when such an attach arrives.
 */
import type { Logger } from '@voxfleet/logger';
import type { AttachResponse } from '@voxfleet/schema';
import { WorkerError } from '../errors.js';
import type { Worker } from '../worker.js';
import { createAgentToken, freeSlot } from './agent.js';
import type { LiveKitConfig } from './config.js';
import { loadRtcMediaConnector, type LiveKitMediaConnector } from './media.js';

export interface RoomAttachContext {
  worker: Worker;
  config: LiveKitConfig;
  media: LiveKitMediaConnector | undefined;
  log: Logger;
}

/** `body` must already be a valid AttachRequest with LiveKit media, checked by the caller. */
export async function attachToRoom(
  context: RoomAttachContext,
  body: { callId: string; reservationToken: string; room: string; raw: unknown },
): Promise<AttachResponse> {
  const { worker, config } = context;
  const log = context.log.child({ callId: body.callId, room: body.room });
  const attached = await worker.attach(body.raw);
  try {
    const media = context.media ?? (await loadRtcMediaConnector());
    const session = await media.join({
      url: config.url,
      token: await createAgentToken(config, worker.workerId, body.room),
      room: body.room,
      sipIdentity: null,
      streamUrl: attached.streamUrl,
      callId: body.callId,
      log,
    });
    void worker.whenCallEnded().then(() => session.close());
    log.info({}, 'livekit room joined');
    return attached;
  } catch (err) {
    log.warn({ err }, 'livekit room join failed');
    await freeSlot(worker, body.callId, body.reservationToken, log);
    if (err instanceof WorkerError) throw err;
    throw new WorkerError(
      'LIVEKIT_UNREACHABLE',
      `joining LiveKit room ${body.room} failed: ${(err as Error).message}`,
      {
        cause: err,
        callId: body.callId,
        retryable: true,
      },
    );
  }
}
