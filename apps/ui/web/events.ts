/**
 * Reads voxbridge's `GET /v1/events` server-sent event stream with `fetch`, because
 * `EventSource` cannot send the API key header. Reconnects after a drop with a growing delay.
 */
import { send } from './api.js';

export interface StreamEvent {
  event: string;
  data: string;
}

export interface EventStreamOptions {
  onEvent: (event: StreamEvent) => void;
  /** Called with true once the stream is open and false after it dropped. */
  onConnection: (open: boolean) => void;
}

const MAX_RETRY_DELAY_MS = 15_000;

/** Opens the stream; the returned function closes it for good. */
export function openEventStream(options: EventStreamOptions): () => void {
  const controller = new AbortController();
  let retryDelayMs = 1000;

  const run = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      try {
        const response = await send('/v1/events', { signal: controller.signal });
        options.onConnection(true);
        retryDelayMs = 1000;
        await readEvents(response, options.onEvent);
      } catch {
        if (controller.signal.aborted) return;
        // A dropped stream shows as "Connecting…" in the view. The console stays quiet, so a
        // restart of voxbridge is not reported as an application error.
      }
      options.onConnection(false);
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      retryDelayMs = Math.min(retryDelayMs * 2, MAX_RETRY_DELAY_MS);
    }
  };
  void run();
  return () => controller.abort();
}

async function readEvents(
  response: Response,
  onEvent: (event: StreamEvent) => void,
): Promise<void> {
  if (response.body === null) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value.replaceAll('\r\n', '\n');
    let end = buffered.indexOf('\n\n');
    while (end !== -1) {
      const event = parseEvent(buffered.slice(0, end));
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf('\n\n');
      if (event !== null) onEvent(event);
    }
  }
}

/** Parses one event block; comment-only blocks (keep-alives) return null. */
function parseEvent(block: string): StreamEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 ? null : { event, data: data.join('\n') };
}
