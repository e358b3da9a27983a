/**
 * `POST /livekit/dialout`: claims the reserved slot, creates the call's LiveKit room,
 * dials the contact as a SIP participant on the configured outbound trunk and joins the
 * room as the agent. Any failure frees the slot and deletes the room again. This module and
 * `livekit-server-sdk` load only on the first dial-out.
 */
import type { Logger } from '@voxfleet/logger';
import { RoomServiceClient, ServerError, SipCallError, SipClient } from 'livekit-server-sdk';
import { z } from 'zod';
import { WorkerError } from '../errors.js';
import type { Worker } from '../worker.js';
import type { LiveKitConfig } from './config.js';
import { createAgentToken, freeSlot } from './agent.js';
import { loadRtcMediaConnector, type LiveKitMediaConnector } from './media.js';
import {
  LiveKitDialoutRequest,
  roomNameForCall,
  sipIdentityForCall,
  type LiveKitDialoutResponse,
} from './request.js';

/** An empty room closes after this many seconds, so a room whose call failed does not linger. */
const ROOM_EMPTY_TIMEOUT_SECONDS = 60;
/** Timeout of one LiveKit API request, in seconds (the SDK's unit). */
const REQUEST_TIMEOUT_SECONDS = 10;

export interface DialoutContext {
  worker: Worker;
  config: LiveKitConfig;
  /** Joins the room for media; the `@livekit/rtc-node` connector when absent. */
  media: LiveKitMediaConnector | undefined;
  log: Logger;
}

/** Claims the slot and dials the contact; the call's media then arrives through the room. */
export async function dialOut(
  context: DialoutContext,
  body: unknown,
): Promise<LiveKitDialoutResponse> {
  const parsed = LiveKitDialoutRequest.safeParse(body);
  if (!parsed.success) throw new WorkerError('INVALID_REQUEST', z.prettifyError(parsed.error));
  const request = parsed.data;
  const { worker, config } = context;
  const room = roomNameForCall(request.callId);
  const sipIdentity = sipIdentityForCall(request.callId);
  const log = context.log.child({ callId: request.callId, room });

  // Claims the slot with the same reservation check as `POST /attach`.
  const attached = await worker.attach({
    reservationToken: request.reservationToken,
    callId: request.callId,
    botId: request.botId,
    tenantId: request.tenantId,
    campaignId: request.campaignId,
    contactId: request.contactId,
    to: request.to,
    streamTimeoutMs: request.streamTimeoutMs,
    ...(request.reservedAt === undefined ? {} : { reservedAt: request.reservedAt }),
    media: { kind: 'livekit', room },
  });

  const clientOptions = { requestTimeout: REQUEST_TIMEOUT_SECONDS, failover: false };
  const rooms = new RoomServiceClient(config.url, config.apiKey, config.apiSecret, clientOptions);
  const sip = new SipClient(config.url, config.apiKey, config.apiSecret, clientOptions);
  let roomCreated = false;
  let step = 'create room';
  try {
    await rooms.createRoom({ name: room, emptyTimeout: ROOM_EMPTY_TIMEOUT_SECONDS });
    roomCreated = true;

    step = 'create SIP participant';
    const participant = await sip.createSipParticipant(config.sipTrunkId, request.to, room, {
      participantIdentity: sipIdentity,
      participantName: request.contactId ?? request.to,
      ...(request.from === undefined ? {} : { fromNumber: request.from }),
      ringingTimeout: Math.ceil(request.ringingTimeoutMs / 1000),
      waitUntilAnswered: false,
    });
    log.info({ sipCallId: participant.sipCallId }, 'livekit sip participant created');

    step = 'join room';
    const media = context.media ?? (await loadRtcMediaConnector());
    const session = await media.join({
      url: config.url,
      token: await createAgentToken(config, worker.workerId, room),
      room,
      sipIdentity,
      streamUrl: attached.streamUrl,
      callId: request.callId,
      log,
    });

    // The call's end hangs up the SIP leg: deleting the room removes every participant.
    void worker.whenCallEnded().then(async () => {
      await session.close();
      await deleteRoom(rooms, room, log);
    });
    log.info({}, 'livekit dial-out started');
    return {
      workerId: worker.workerId,
      callId: request.callId,
      room,
      sipParticipantIdentity: participant.participantIdentity,
      sipCallId: participant.sipCallId,
    };
  } catch (err) {
    log.warn({ err, step }, 'livekit dial-out failed');
    await freeSlot(worker, request.callId, request.reservationToken, log);
    if (roomCreated) await deleteRoom(rooms, room, log);
    throw toWorkerError(err, step, request.callId);
  }
}

async function deleteRoom(rooms: RoomServiceClient, room: string, log: Logger): Promise<void> {
  try {
    await rooms.deleteRoom(room);
  } catch (err) {
    log.warn({ err, room }, 'livekit room delete failed');
  }
}

/** Maps SDK errors to worker errors that name the failed step and LiveKit's error code. */
function toWorkerError(err: unknown, step: string, callId: string): WorkerError {
  if (err instanceof WorkerError) return err;
  if (err instanceof SipCallError) {
    const sipStatus = err.sipStatusCode === undefined ? '' : ` (SIP ${err.sipStatusCode})`;
    return new WorkerError(
      'LIVEKIT_SIP_FAILED',
      `livekit ${step} failed${sipStatus}: ${err.message}`,
      {
        cause: err,
        callId,
      },
    );
  }
  if (err instanceof ServerError) {
    return new WorkerError(
      'LIVEKIT_REQUEST_FAILED',
      `livekit ${step} failed with HTTP ${err.status} ${err.code ?? ''}: ${err.message}`,
      { cause: err, callId, retryable: err.status >= 500 },
    );
  }
  return new WorkerError(
    'LIVEKIT_UNREACHABLE',
    `livekit ${step} failed: ${(err as Error).message}; check LIVEKIT_URL`,
    { cause: err, callId, retryable: true },
  );
}
