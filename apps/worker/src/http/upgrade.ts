/**
 * Helpers of the media WebSocket upgrade: a plain HTTP rejection, so the socket is never
 * upgraded, and the check of Twilio's `X-Twilio-Signature` header.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isValidTwilioSignature } from '../protocol/twilio-signature.js';

export function rejectUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      '\r\n' +
      body,
  );
}

export type TwilioSignatureCheck = 'not-configured' | 'absent' | 'valid' | 'invalid';

/**
 * Checks `X-Twilio-Signature` against the URL the carrier opened: the worker's public URL
 * with the request's path and query. Twilio is given a `wss://` (or `ws://`) stream URL, and
 * the `https://` form of the same URL is accepted too, because a proxy in front of the worker
 * may report either.
 */
export function checkTwilioSignature(
  authToken: string | undefined,
  publicUrl: string,
  req: IncomingMessage,
): TwilioSignatureCheck {
  if (authToken === undefined || authToken === '') return 'not-configured';
  const header = req.headers['x-twilio-signature'];
  const signature = Array.isArray(header) ? header[0] : header;
  if (signature === undefined || signature === '') return 'absent';

  const url = new URL(req.url ?? '/', publicUrl);
  const candidates = new Set<string>();
  for (const protocol of ['ws:', 'http:']) {
    const secure = url.protocol === 'https:' || url.protocol === 'wss:';
    url.protocol = secure ? protocol.replace(':', 's:') : protocol;
    candidates.add(url.toString());
  }
  for (const candidate of candidates) {
    if (isValidTwilioSignature(authToken, signature, candidate)) return 'valid';
  }
  return 'invalid';
}
