/**
 * Twilio Media Streams messages (protocol "Call" 1.0.0), as described on
 * twilio.com/docs/voice/media-streams/websocket-messages. `sequenceNumber`, `chunk` and
 * `timestamp` are strings on the wire.
 */
import { z } from 'zod';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Messages a bidirectional stream accepts from the application (the worker). */
export const WorkerMessage = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('media'),
    streamSid: z.string(),
    media: z.object({ payload: z.string().regex(BASE64, 'must be base64') }),
  }),
  z.object({
    event: z.literal('mark'),
    streamSid: z.string(),
    mark: z.object({ name: z.string().min(1) }),
  }),
  z.object({ event: z.literal('clear'), streamSid: z.string() }),
]);
export type WorkerMessage = z.infer<typeof WorkerMessage>;

export interface StartMessageFields {
  sequenceNumber: number;
  streamSid: string;
  accountSid: string;
  callSid: string;
  customParameters: Record<string, string>;
}

export function connectedMessage(): string {
  return JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' });
}

export function startMessage(fields: StartMessageFields): string {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: String(fields.sequenceNumber),
    streamSid: fields.streamSid,
    start: {
      streamSid: fields.streamSid,
      accountSid: fields.accountSid,
      callSid: fields.callSid,
      // Only the callee's audio is streamed to the application, as with <Connect><Stream>.
      tracks: ['inbound'],
      customParameters: fields.customParameters,
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    },
  });
}

/**
 * Builds a `media` message by hand because it is sent 50 times a second per call; every
 * interpolated value is a decimal number, a hex stream id or base64, none needing escapes.
 */
export function mediaMessage(
  sequenceNumber: number,
  streamSid: string,
  chunk: number,
  timestampMs: number,
  payload: string,
): string {
  return (
    `{"event":"media","sequenceNumber":"${sequenceNumber}","streamSid":"${streamSid}",` +
    `"media":{"track":"inbound","chunk":"${chunk}","timestamp":"${timestampMs}",` +
    `"payload":"${payload}"}}`
  );
}

export function dtmfMessage(sequenceNumber: number, streamSid: string, digit: string): string {
  return JSON.stringify({
    event: 'dtmf',
    streamSid,
    sequenceNumber: String(sequenceNumber),
    dtmf: { track: 'inbound_track', digit },
  });
}

export function markMessage(sequenceNumber: number, streamSid: string, name: string): string {
  return JSON.stringify({
    event: 'mark',
    sequenceNumber: String(sequenceNumber),
    streamSid,
    mark: { name },
  });
}

export function stopMessage(
  sequenceNumber: number,
  streamSid: string,
  accountSid: string,
  callSid: string,
): string {
  return JSON.stringify({
    event: 'stop',
    sequenceNumber: String(sequenceNumber),
    streamSid,
    stop: { accountSid, callSid },
  });
}
