/**
 * The sim carrier's side of an inbound call's webhook: the request a carrier sends when its
 * number rings (form fields named as each provider names them), and a reader for the
 * markup that comes back. The reader is not a general XML parser. It understands only what
 * voxbridge and similar apps return: a `<Stream>` with its URL, `<Parameter>` nouns,
 * Plivo's `extraHeaders`, a `<Hangup>`, or Exotel's JSON `{ url }`.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { StreamProvider } from './protocols/index.js';

/** Account SID sent in webhooks; Twilio SIDs are a prefix and 32 hex digits. */
const SIM_ACCOUNT_SID = `AC${'0'.repeat(32)}`;
/** Webhook responses larger than this are cut off; real ones are a few hundred bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface WebhookCall {
  carrierCallId: string;
  from: string;
  to: string;
}

export interface WebhookRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** Action named by a webhook response: stream the call, hang up, or nothing the sim can use. */
export type WebhookAction =
  | { kind: 'stream'; streamUrl: string; customParameters: Record<string, string> }
  | { kind: 'hangup'; status: number }
  | { kind: 'invalid'; status: number; problem: string };

/** Returns a carrier call id in the provider's style. */
export function newCarrierCallId(provider: StreamProvider): string {
  const hex = randomBytes(16).toString('hex');
  if (provider === 'plivo') {
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  if (provider === 'telnyx') return `v3:${randomBytes(24).toString('base64url')}`;
  return `CA${hex}`;
}

/** Returns the webhook fields each provider sends for a ringing inbound call. */
export function webhookFields(provider: StreamProvider, call: WebhookCall): Record<string, string> {
  switch (provider) {
    case 'twilio':
      return {
        AccountSid: SIM_ACCOUNT_SID,
        ApiVersion: '2010-04-01',
        CallSid: call.carrierCallId,
        CallStatus: 'ringing',
        Called: call.to,
        Caller: call.from,
        Direction: 'inbound',
        From: call.from,
        To: call.to,
      };
    case 'telnyx':
      return {
        AccountSid: SIM_ACCOUNT_SID,
        CallSid: call.carrierCallId,
        CallStatus: 'ringing',
        Direction: 'inbound',
        From: call.from,
        To: call.to,
      };
    case 'plivo':
      // Plivo writes numbers without the leading `+`.
      return {
        CallUUID: call.carrierCallId,
        CallStatus: 'ringing',
        Direction: 'inbound',
        Event: 'StartApp',
        From: call.from.replace(/^\+/, ''),
        To: call.to.replace(/^\+/, ''),
      };
    case 'exotel':
      return {
        CallSid: call.carrierCallId,
        CallFrom: call.from,
        CallTo: call.to,
        CallStatus: 'in-progress',
        Direction: 'incoming',
      };
  }
}

/**
 * Builds the webhook request: a form POST, or a GET with query parameters for Exotel.
 * With `twilioAuthToken`, a Twilio request carries `X-Twilio-Signature` as Twilio computes
 * it: HMAC-SHA1 of the URL and the sorted POST parameters.
 */
export function buildWebhookRequest(
  provider: StreamProvider,
  webhookUrl: string,
  fields: Record<string, string>,
  twilioAuthToken?: string,
): WebhookRequest {
  if (provider === 'exotel') {
    const url = new URL(webhookUrl);
    for (const [name, value] of Object.entries(fields)) url.searchParams.set(name, value);
    return { method: 'GET', url: url.toString(), headers: {}, body: undefined };
  }
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
  };
  if (provider === 'twilio' && twilioAuthToken !== undefined) {
    const hmac = createHmac('sha1', twilioAuthToken).update(webhookUrl, 'utf8');
    for (const name of Object.keys(fields).sort()) hmac.update(name + (fields[name] ?? ''), 'utf8');
    headers['x-twilio-signature'] = hmac.digest('base64');
  }
  return { method: 'POST', url: webhookUrl, headers, body: new URLSearchParams(fields).toString() };
}

/** Sends the webhook and reads its response; network failures reject. */
export async function sendWebhook(
  request: WebhookRequest,
  timeoutMs: number,
): Promise<WebhookAction> {
  const response = await fetch(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = (await response.text()).slice(0, MAX_ANSWER_BYTES);
  return readWebhookResponse(response.status, response.headers.get('content-type') ?? '', text);
}

/** Reads a webhook response into the action a carrier would take. */
export function readWebhookResponse(
  status: number,
  contentType: string,
  text: string,
): WebhookAction {
  if (status === 503) return { kind: 'hangup', status };
  if (status < 200 || status >= 300) {
    return { kind: 'invalid', status, problem: `HTTP ${status}: ${text.slice(0, 200)}` };
  }
  if (contentType.includes('json')) return readJsonResponse(status, text);

  const stream = /<Stream\b([^>]*?)(\/>|>([\s\S]*?)<\/Stream>)/.exec(text);
  if (stream === null) {
    if (/<Hangup\b/.test(text)) return { kind: 'hangup', status };
    return { kind: 'invalid', status, problem: 'the response has neither <Stream> nor <Hangup>' };
  }
  const attributes = readAttributes(stream[1] ?? '');
  const inner = stream[3] ?? '';
  const customParameters: Record<string, string> = {};
  for (const match of inner.matchAll(/<Parameter\b([^>]*)\/?>/g)) {
    const parameter = readAttributes(match[1] ?? '');
    if (parameter.name !== undefined) customParameters[parameter.name] = parameter.value ?? '';
  }
  // Plivo's `extraHeaders` is a `k=v,k=v` list.
  for (const pair of (attributes.extraHeaders ?? '').split(/[,;]/)) {
    const index = pair.indexOf('=');
    if (index > 0) customParameters[pair.slice(0, index).trim()] = pair.slice(index + 1).trim();
  }
  // Twilio and Telnyx put the URL in an attribute, Plivo in the element's text.
  const bodyText = unescapeXml(inner.replace(/<[^>]*>/g, '').trim());
  const streamUrl = attributes.url ?? bodyText;
  if (!/^wss?:\/\//.test(streamUrl)) {
    return { kind: 'invalid', status, problem: 'the <Stream> has no ws:// or wss:// URL' };
  }
  return { kind: 'stream', streamUrl, customParameters };
}

function readJsonResponse(status: number, text: string): WebhookAction {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && 'url' in value) {
      const url = (value as { url: unknown }).url;
      if (typeof url === 'string' && /^wss?:\/\//.test(url)) {
        return { kind: 'stream', streamUrl: url, customParameters: {} };
      }
    }
  } catch {
    // Reported below.
  }
  return { kind: 'invalid', status, problem: 'the JSON response has no ws:// or wss:// "url"' };
}

function readAttributes(text: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const match of text.matchAll(/([A-Za-z_][\w-]*)\s*=\s*"([^"]*)"/g)) {
    if (match[1] !== undefined) attributes[match[1]] = unescapeXml(match[2] ?? '');
  }
  return attributes;
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}
