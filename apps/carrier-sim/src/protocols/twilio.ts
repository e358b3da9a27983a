/** Twilio Media Streams framing of the sim carrier's stream (20 ms μ-law frames). */
import { randomBytes } from 'node:crypto';
import {
  WorkerMessage,
  connectedMessage,
  dtmfMessage,
  markMessage,
  mediaMessage,
  startMessage,
  stopMessage,
} from '../twilio-messages.js';
import type { CarrierStreamProtocol, ParsedWorkerMessage, StreamProtocolContext } from './types.js';

export function createTwilioProtocol(context: StreamProtocolContext): CarrierStreamProtocol {
  const streamSid = `MZ${randomBytes(16).toString('hex')}`;
  return {
    provider: 'twilio',
    streamId: streamSid,
    connected: () => connectedMessage(),
    start: (next) =>
      startMessage({
        sequenceNumber: next(),
        streamSid,
        accountSid: context.accountSid,
        callSid: context.carrierCallId,
        customParameters: context.customParameters,
      }),
    media: (frame, next) => [
      mediaMessage(next(), streamSid, frame.index, frame.mediaMs, frame.mulawBase64),
    ],
    flushMedia: () => [],
    dtmf: (next, digit) => dtmfMessage(next(), streamSid, digit),
    markPlayed: (next, name) => markMessage(next(), streamSid, name),
    clearAcknowledgement: () => null,
    stop: (next) => stopMessage(next(), streamSid, context.accountSid, context.carrierCallId),
    parse(message): ParsedWorkerMessage {
      const parsed = WorkerMessage.safeParse(message);
      if (!parsed.success)
        return { ok: false, problem: parsed.error.issues[0]?.message ?? 'invalid' };
      const value = parsed.data;
      if (value.streamSid !== streamSid) {
        return { ok: false, problem: 'streamSid does not match the stream' };
      }
      if (value.event === 'media') {
        return {
          ok: true,
          command: { kind: 'audio', mulaw: Buffer.from(value.media.payload, 'base64') },
        };
      }
      if (value.event === 'mark')
        return { ok: true, command: { kind: 'mark', name: value.mark.name } };
      return { ok: true, command: { kind: 'clear' } };
    },
  };
}
