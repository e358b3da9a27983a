/** Fleet: every worker slot grouped by host and pool, live, and capacity over the last hour. */
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { messageOf, request } from '../api.js';
import { LineChart } from '../charts.js';
import { openEventStream } from '../events.js';
import { html } from '../html.js';
import type { Fleet, FleetHistory, FleetSample, FleetWorker, SlotState } from '../types.js';

const STATE_LABELS: Record<SlotState, string> = {
  idle: 'idle',
  reserved: 'reserved',
  busy: 'in call',
  draining: 'draining',
  offline: 'offline',
};

const DEFAULT_WINDOW_MS = 60 * 60 * 1000;

export function FleetView(): VNode {
  const [fleet, setFleet] = useState<Fleet | null>(null);
  const [samples, setSamples] = useState<FleetSample[]>([]);
  const [windowMs, setWindowMs] = useState(DEFAULT_WINDOW_MS);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    request<FleetHistory>('/v1/fleet/history').then(
      (history) => {
        setWindowMs(history.windowMs);
        setSamples((current) => mergeSamples(history.samples, current, history.windowMs));
      },
      (err: unknown) => setError(messageOf(err)),
    );
    return openEventStream({
      onConnection: setLive,
      onEvent(event) {
        if (event.event !== 'fleet') return;
        const next = JSON.parse(event.data) as Fleet;
        setFleet(next);
        const sample = sampleOf(next);
        if (sample !== null) setSamples((current) => mergeSamples(current, [sample], windowMs));
      },
    });
  }, []);

  return html`
    <section aria-labelledby="fleet-title">
      <header class="view-header">
        <h1 id="fleet-title">Fleet</h1>
        <span class=${live ? 'status live' : 'status'} role="status">
          ${live ? 'Live' : 'Connecting…'}
        </span>
      </header>
      ${error === null ? null : html`<p class="error" role="alert">${error}</p>`}
      ${fleet === null ? html`<p class="muted">Loading the fleet…</p>` : FleetBody(fleet)}
      <h2>Capacity, last hour</h2>
      <${LineChart}
        title="Used and free slots over the last hour"
        times=${samples.map((sample) => Date.parse(sample.at))}
        windowMs=${windowMs}
        series=${[
          { label: 'Used', className: 'used', values: samples.map((sample) => sample.used) },
          { label: 'Free', className: 'free', values: samples.map((sample) => sample.free) },
        ]}
      />
    </section>
  `;
}

function FleetBody(fleet: Fleet): VNode {
  if (!fleet.registryConfigured) {
    return html`<p class="notice">
      voxbridge runs without a capacity registry (REGISTRY_URL is not set), so it cannot list
      workers.
    </p>`;
  }
  const counts = fleet.counts;
  return html`
    ${
      fleet.registryError === null
        ? null
        : html`<p class="error" role="alert">Registry unavailable: ${fleet.registryError}</p>`
    }
    <dl class="counts" aria-label="Slot counts">
      ${(['workers', 'idle', 'reserved', 'busy', 'draining', 'offline'] as const).map(
        (name) =>
          html`<div class=${`count ${name}`}>
            <dt>${name === 'busy' ? 'in call' : name}</dt>
            <dd>${counts[name]}</dd>
          </div>`,
      )}
    </dl>
    ${fleet.hosts.length === 0 ? html`<p class="muted">No worker is registered.</p>` : null}
    ${fleet.hosts.map(
      (host) => html`
        <section class="host" aria-label=${`Host ${host.host}`}>
          <h2>Host ${host.host}</h2>
          ${host.pools.map(
            (pool) => html`
              <table class="workers">
                <caption>
                  Pool ${pool.pool}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Worker</th>
                    <th scope="col">State</th>
                    <th scope="col">Call</th>
                    <th scope="col">Labels</th>
                  </tr>
                </thead>
                <tbody>
                  ${pool.workers.map(WorkerRow)}
                </tbody>
              </table>
            `,
          )}
        </section>
      `,
    )}
  `;
}

function WorkerRow(worker: FleetWorker): VNode {
  const reservation = worker.reservation;
  let call: VNode | string = '';
  if (reservation !== null) {
    call =
      reservation.callId === null
        ? 'another tenant'
        : html`<a href=${`/calls/${reservation.callId}`}>${reservation.callId}</a>`;
  }
  const labels = Object.entries(worker.labels).map(([key, value]) => `${key}=${value}`);
  return html`
    <tr data-worker=${worker.workerId}>
      <th scope="row">${worker.workerId}</th>
      <td>
        <span class=${`badge ${worker.state}`}>${STATE_LABELS[worker.state]}</span>
        ${worker.draining && worker.state !== 'draining' ? html` <span class="badge draining">draining</span>` : null}
      </td>
      <td>${call}</td>
      <td>${labels.join(', ')}</td>
    </tr>
  `;
}

function sampleOf(fleet: Fleet): FleetSample | null {
  if (fleet.sampledAt === null) return null;
  const counts = fleet.counts;
  return {
    at: fleet.sampledAt,
    used: counts.reserved + counts.busy,
    free: counts.idle,
    draining: counts.draining,
    offline: counts.offline,
  };
}

/** Joins two sample lists by time, drops duplicates and samples older than the window. */
function mergeSamples(older: FleetSample[], newer: FleetSample[], windowMs: number): FleetSample[] {
  const byTime = new Map<string, FleetSample>();
  for (const sample of [...older, ...newer]) byTime.set(sample.at, sample);
  const merged = [...byTime.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const newest = merged.at(-1);
  if (newest === undefined) return merged;
  const cutoff = Date.parse(newest.at) - windowMs;
  return merged.filter((sample) => Date.parse(sample.at) >= cutoff);
}
