/** Calls: a filterable list, and a call's timeline, transcript, DTMF and recording. */
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { messageOf, request, send } from '../api.js';
import { html } from '../html.js';
import { navigate, onLinkClick } from '../router.js';
import { CALL_STATUSES } from '../types.js';
import type { CallDetail, CallSummary, Campaign, Page, TranscriptEntry } from '../types.js';

/** Calls fetched per page; older ones load with the "more" button. */
const PAGE_SIZE = 100;

export function CallsView(props: { query: URLSearchParams }): VNode {
  const status = props.query.get('status') ?? '';
  const campaignId = props.query.get('campaignId') ?? '';
  const [calls, setCalls] = useState<CallSummary[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [campaigns, setCampaigns] = useState<Campaign[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    request<{ items: Campaign[] }>('/v1/campaigns').then(
      (body) => setCampaigns(body.items),
      (err: unknown) => setError(messageOf(err)),
    );
  }, []);

  const pageQuery = (cursor: string | null): string => {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (status !== '') query.set('status', status);
    if (campaignId !== '') query.set('campaignId', campaignId);
    if (cursor !== null) query.set('cursor', cursor);
    return `/v1/calls?${query.toString()}`;
  };

  useEffect(() => {
    setCalls(null);
    setNextCursor(null);
    request<Page<CallSummary>>(pageQuery(null)).then(
      (page) => {
        setCalls(page.items);
        setNextCursor(page.nextCursor);
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, [status, campaignId]);

  const loadMore = (): void => {
    if (nextCursor === null || loadingMore) return;
    setLoadingMore(true);
    request<Page<CallSummary>>(pageQuery(nextCursor))
      .then(
        (page) => {
          setCalls((shown) => [...(shown ?? []), ...page.items]);
          setNextCursor(page.nextCursor);
        },
        (err: unknown) => setError(messageOf(err)),
      )
      .finally(() => setLoadingMore(false));
  };

  const filter = (name: string, value: string): void => {
    const query = new URLSearchParams(props.query);
    if (value === '') query.delete(name);
    else query.set(name, value);
    const text = query.toString();
    navigate(text === '' ? '/calls' : `/calls?${text}`);
  };

  return html`
    <section aria-labelledby="calls-title">
      <header class="view-header"><h1 id="calls-title">Calls</h1></header>
      <form
        class="filters"
        aria-label="Call filters"
        onSubmit=${(event: Event) => event.preventDefault()}
      >
        <label>
          Status
          <select
            name="status"
            value=${status}
            onChange=${(event: Event) => filter('status', (event.currentTarget as HTMLSelectElement).value)}
          >
            <option value="">any</option>
            ${CALL_STATUSES.map((value) => html`<option value=${value}>${value}</option>`)}
          </select>
        </label>
        <label>
          Campaign
          <select
            name="campaignId"
            value=${campaignId}
            onChange=${(event: Event) => filter('campaignId', (event.currentTarget as HTMLSelectElement).value)}
          >
            <option value="">any</option>
            ${campaigns.map((campaign) => html`<option value=${campaign.id}>${campaign.name}</option>`)}
          </select>
        </label>
      </form>
      ${error === null ? null : html`<p class="error" role="alert">${error}</p>`}
      ${
        calls === null
          ? html`<p class="muted">Loading…</p>`
          : calls.length === 0
            ? html`<p class="muted">No call matches.</p>`
            : html`<table>
                <thead>
                  <tr>
                    <th scope="col">Call</th>
                    <th scope="col">To</th>
                    <th scope="col">Status</th>
                    <th scope="col">Outcome</th>
                    <th scope="col">Attempt</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  ${calls.map(
                    (call) =>
                      html`<tr>
                        <th scope="row">
                          <a href=${`/calls/${call.id}`} onClick=${onLinkClick}>${call.id}</a>
                        </th>
                        <td>${call.to}</td>
                        <td><span class=${`badge ${call.status}`}>${call.status}</span></td>
                        <td>${call.outcome ?? ''}</td>
                        <td>${call.attempt}</td>
                        <td>${new Date(call.createdAt).toLocaleString()}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
      }
      ${
        nextCursor === null
          ? null
          : html`<p>
              <button type="button" onClick=${loadMore} disabled=${loadingMore}>
                ${loadingMore ? 'Loading…' : `Show ${PAGE_SIZE} more`}
              </button>
            </p>`
      }
    </section>
  `;
}

export function CallDetailView(props: { id: string }): VNode {
  const [call, setCall] = useState<CallDetail | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    request<CallDetail>(`/v1/calls/${props.id}`).then(setCall, (err: unknown) =>
      setError(messageOf(err)),
    );
  }, [props.id]);

  if (call === null) {
    return html`<section>
      <h1>Call</h1>
      ${error === null ? html`<p class="muted">Loading…</p>` : html`<p class="error" role="alert">${error}</p>`}
    </section>`;
  }
  const transcript = call.result?.transcript ?? [];
  const digits = transcript.filter((entry) => entry.kind === 'dtmf').map((entry) => entry.digit);
  return html`
    <section aria-labelledby="call-title">
      <p><a href="/calls" onClick=${onLinkClick}>← All calls</a></p>
      <header class="view-header">
        <h1 id="call-title">Call ${call.id}</h1>
        <span class=${`badge ${call.status}`}>${call.status}</span>
      </header>
      <dl class="facts">
        <div>
          <dt>To</dt>
          <dd>${call.to}</dd>
        </div>
        <div>
          <dt>Outcome</dt>
          <dd>${call.outcome ?? '—'}</dd>
        </div>
        <div>
          <dt>Attempt</dt>
          <dd>${call.attempt}</dd>
        </div>
        <div>
          <dt>Worker</dt>
          <dd>${call.workerId ?? '—'}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>${call.result === null ? '—' : `${(call.result.durationMs / 1000).toFixed(1)} s`}</dd>
        </div>
        <div>
          <dt>DTMF</dt>
          <dd data-testid="dtmf">${digits.length === 0 ? 'none' : digits.join(' ')}</dd>
        </div>
      </dl>
      <h2>Recording</h2>
      <${Recording} call=${call} />
      <div class="columns">
        <section aria-labelledby="timeline-title">
          <h2 id="timeline-title">Lifecycle</h2>
          <ol class="timeline">
            ${lifecycleOf(call).map(
              (entry) =>
                html`<li class=${entry.fromWorker ? 'worker-event' : ''}>
                  <time datetime=${entry.at}>${formatTime(entry.at)}</time>
                  ${entry.fromWorker ? entry.label : html`<strong>${entry.label}</strong>`}
                </li>`,
            )}
          </ol>
        </section>
        <section aria-labelledby="transcript-title">
          <h2 id="transcript-title">Transcript</h2>
          ${
            transcript.length === 0
              ? html`<p class="muted">No transcript.</p>`
              : html`<ol class="transcript">
                  ${transcript.map(TranscriptLine)}
                </ol>`
          }
        </section>
      </div>
    </section>
  `;
}

/**
 * Fetches the recording from voxbridge with the API key header into a blob URL, because an
 * `<audio src>` request cannot carry the header. The URL is revoked when the view goes away.
 */
function Recording(props: { call: CallDetail }): VNode {
  const [source, setSource] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const path = props.call.recordingUrl;

  useEffect(() => {
    if (path === null) return;
    // A presigned download URL (S3 with S3_PRESIGN=true) is on another origin and needs no
    // key, and the key must not leave voxbridge's origin, so the player loads it directly.
    // NOTE: the browser tests cover the same-origin path only.
    if (new URL(path, location.href).origin !== location.origin) {
      setSource(path);
      return;
    }
    let url: string | null = null;
    let cancelled = false;
    send(path)
      .then((response) => response.blob())
      .then(
        (blob) => {
          if (cancelled) return;
          url = URL.createObjectURL(blob);
          setSource(url);
        },
        (err: unknown) => setError(messageOf(err)),
      );
    return () => {
      cancelled = true;
      if (url !== null) URL.revokeObjectURL(url);
    };
  }, [path]);

  if (path === null) return html`<p class="muted">No recording stored for this call.</p>`;
  if (error !== null) return html`<p class="error" role="alert">${error}</p>`;
  if (source === null) return html`<p class="muted">Loading the recording…</p>`;
  return html`<audio
    controls
    preload="auto"
    src=${source}
    aria-label="Call recording (caller left, bot right)"
  ></audio>`;
}

function TranscriptLine(entry: TranscriptEntry): VNode {
  const at = `${(entry.atMs / 1000).toFixed(1)} s`;
  const speaker = entry.kind === 'prompt' ? 'Bot' : 'Caller';
  return html`<li class=${entry.kind === 'prompt' ? 'bot' : 'caller'}>
    <span class="offset">${at}</span>
    <strong>${speaker}</strong>
    <span>${transcriptText(entry)}</span>
  </li>`;
}

function transcriptText(entry: TranscriptEntry): string {
  switch (entry.kind) {
    case 'prompt':
      return entry.interrupted ? `${entry.text} (interrupted)` : entry.text;
    case 'dtmf':
      return `pressed ${entry.digit}`;
    case 'speech':
      return entry.text ?? `spoke for ${(entry.durationMs / 1000).toFixed(1)} s`;
    case 'no-input':
      return 'no input';
  }
}

interface LifecycleEntry {
  at: string;
  label: string;
  /** True for the worker's own timeline events, false for voxbridge's call statuses. */
  fromWorker: boolean;
}

/** Merges the call's status history and the worker's timeline in time order. */
function lifecycleOf(call: CallDetail): LifecycleEntry[] {
  const statuses = call.history.map((entry) => ({
    at: entry.at,
    label: entry.reason === null ? entry.status : `${entry.status} (${entry.reason})`,
    fromWorker: false,
  }));
  const events = (call.result?.timeline ?? []).map((entry) => ({
    at: entry.at,
    label: entry.event,
    fromWorker: true,
  }));
  // A stable sort keeps each source's own order for entries with the same timestamp.
  return [...statuses, ...events].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

function formatTime(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour12: false });
}
