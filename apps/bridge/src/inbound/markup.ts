/**
 * The response voxbridge sends to a carrier's webhook, in that carrier's own markup: connect the
 * call to the worker's media stream, or play an "all lines are busy" message and hang up.
 * Sources:
 * - Twilio: twilio.com/docs/voice/twiml/stream. `<Connect><Stream>` makes the stream
 *   bidirectional; custom data goes in `<Parameter>` nouns and arrives in the `start`
 *   message's `customParameters`, so the stream URL carries no query string.
 * - Telnyx: developers.telnyx.com/docs/voice/programmable-voice/texml-verbs/stream. Sending
 *   audio back needs `bidirectionalMode="rtp"` (the default, mp3, is one message per second),
 *   with `bidirectionalCodec="PCMU"`. TeXML documents no `<Parameter>`, so the reservation
 *   token stays in the URL.
 * - Plivo: docs.plivo.com/docs/voice/xml/audiostream. The URL is the element's text;
 *   `bidirectional`, `keepCallAlive`, `contentType` and `extraHeaders` (a `k=v,k=v` list
 *   sent back in the `start` message) are attributes.
 * - Exotel: developer.exotel.com/docs/agentstream/stream-voicebot-applet. The Voicebot
 *   applet's URL may be "an HTTPS endpoint that dynamically returns the WSS URL".
 */
import type { InboundProvider } from './providers.js';

export interface InboundResponse {
  status: number;
  contentType: string;
  body: string;
}

/** Stream URL and credentials a carrier needs to open the media stream of an attached call. */
export interface StreamTarget {
  /** The worker's `streamUrl`, with `callId` and `token` in its query string. */
  streamUrl: string;
  callId: string;
  reservationToken: string;
}

const XML_TYPE = 'text/xml; charset=utf-8';
const BUSY_MESSAGE = 'All lines are busy. Please call again later.';

/** Escapes text for an XML attribute value or element text. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function xmlDocument(inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response>${inner}</Response>\n`;
}

/** Builds the webhook response that streams the call to the worker. */
export function streamResponse(provider: InboundProvider, target: StreamTarget): InboundResponse {
  switch (provider) {
    case 'twilio': {
      const url = new URL(target.streamUrl);
      url.search = '';
      const parameters = [
        ['callId', target.callId],
        ['token', target.reservationToken],
      ]
        .map(
          ([name, value]) =>
            `<Parameter name="${escapeXml(name ?? '')}" value="${escapeXml(value ?? '')}"/>`,
        )
        .join('');
      const stream = `<Stream url="${escapeXml(url.toString())}">${parameters}</Stream>`;
      return {
        status: 200,
        contentType: XML_TYPE,
        body: xmlDocument(`<Connect>${stream}</Connect>`),
      };
    }
    case 'telnyx': {
      // NOTE: the Telnyx stream page shows `<Stream>` inside `<Start>`. `<Connect>` (listed on
      // TeXML's Connect verb page) is used as in TwiML, so the call stays on the stream.
      const stream =
        `<Stream url="${escapeXml(target.streamUrl)}" track="inbound_track"` +
        ' bidirectionalMode="rtp" bidirectionalCodec="PCMU"/>';
      return {
        status: 200,
        contentType: XML_TYPE,
        body: xmlDocument(`<Connect>${stream}</Connect>`),
      };
    }
    case 'plivo': {
      const headers = `callId=${target.callId},token=${target.reservationToken}`;
      const stream =
        '<Stream bidirectional="true" keepCallAlive="true"' +
        ' contentType="audio/x-mulaw;rate=8000"' +
        ` extraHeaders="${escapeXml(headers)}">${escapeXml(target.streamUrl)}</Stream>`;
      return { status: 200, contentType: XML_TYPE, body: xmlDocument(stream) };
    }
    case 'exotel':
      // NOTE: the Exotel page documents an endpoint that returns the WSS URL but shows no
      // response body, so `{ "url": ... }` is an assumption to confirm.
      return {
        status: 200,
        contentType: 'application/json; charset=utf-8',
        body: JSON.stringify({ url: target.streamUrl }),
      };
  }
}

/** Builds the webhook response that plays "all lines are busy" and hangs up. */
export function busyResponse(provider: InboundProvider): InboundResponse {
  switch (provider) {
    case 'twilio':
    case 'telnyx':
      return {
        status: 200,
        contentType: XML_TYPE,
        body: xmlDocument(`<Say>${BUSY_MESSAGE}</Say><Hangup/>`),
      };
    case 'plivo':
      return {
        status: 200,
        contentType: XML_TYPE,
        body: xmlDocument(`<Speak>${BUSY_MESSAGE}</Speak><Hangup reason="busy"/>`),
      };
    case 'exotel':
      // The dynamic URL can only return a stream URL, so a failed request is the way to
      // send the call on to the flow's next applet.
      return {
        status: 503,
        contentType: 'application/json; charset=utf-8',
        body: JSON.stringify({
          error: { code: 'NO_CAPACITY', message: 'all lines are busy: no worker is free' },
        }),
      };
  }
}
