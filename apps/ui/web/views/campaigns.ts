/** Campaigns: the list, the create form, and a campaign's contacts import, controls and progress. */
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { messageOf, request } from '../api.js';
import { BarChart } from '../charts.js';
import { html } from '../html.js';
import { navigate, onLinkClick } from '../router.js';
import type { Bot, Campaign, CampaignDetail, ImportResult } from '../types.js';
import { usePolling } from './polling.js';

const CSV_HINT =
  'A CSV with a header row: phone (E.164, required), name and scenario; any other column ' +
  'becomes a contact variable.';

export function CampaignsView(): VNode {
  const [campaigns, setCampaigns] = useState<Campaign[] | null>(null);
  const [bots, setBots] = useState<Bot[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    request<{ items: Campaign[] }>('/v1/campaigns').then(
      (body) => setCampaigns(body.items),
      (err: unknown) => setError(messageOf(err)),
    );
    request<{ items: Bot[] }>('/v1/bots').then(
      (body) => setBots(body.items),
      (err: unknown) => setError(messageOf(err)),
    );
  }, [version]);

  return html`
    <section aria-labelledby="campaigns-title">
      <header class="view-header"><h1 id="campaigns-title">Campaigns</h1></header>
      ${error === null ? null : html`<p class="error" role="alert">${error}</p>`}
      <${CreateCampaignForm} bots=${bots} onCreated=${() => setVersion((value) => value + 1)} />
      <h2>All campaigns</h2>
      ${
        campaigns === null
          ? html`<p class="muted">Loading…</p>`
          : campaigns.length === 0
            ? html`<p class="muted">No campaign yet.</p>`
            : html`<table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Status</th>
                    <th scope="col">Concurrency</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  ${campaigns.map(
                    (campaign) =>
                      html`<tr>
                        <th scope="row">
                          <a href=${`/campaigns/${campaign.id}`} onClick=${onLinkClick}
                            >${campaign.name}</a
                          >
                        </th>
                        <td><span class=${`badge ${campaign.status}`}>${campaign.status}</span></td>
                        <td>${campaign.concurrency}</td>
                        <td>${new Date(campaign.createdAt).toLocaleString()}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
      }
    </section>
  `;
}

function CreateCampaignForm(props: { bots: Bot[]; onCreated: () => void }): VNode {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: SubmitEvent): Promise<void> => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    setBusy(true);
    setError(null);
    try {
      const created = await request<Campaign>('/v1/campaigns', {
        method: 'POST',
        body: {
          name: String(data.get('name') ?? ''),
          botId: String(data.get('botId') ?? ''),
          concurrency: Number(data.get('concurrency')),
          maxAttempts: Number(data.get('maxAttempts')),
        },
      });
      form.reset();
      props.onCreated();
      navigate(`/campaigns/${created.id}`);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return html`
    <form class="panel" onSubmit=${submit} aria-labelledby="create-campaign-title">
      <h2 id="create-campaign-title">New campaign</h2>
      <div class="fields">
        <label>Name <input name="name" required maxlength="200" /></label>
        <label>
          Bot
          <select name="botId" required>
            ${props.bots.map((bot) => html`<option value=${bot.id}>${bot.name}</option>`)}
          </select>
        </label>
        <label
          >Concurrency
          <input name="concurrency" type="number" min="1" max="1000" value="2" required
        /></label>
        <label
          >Max attempts <input name="maxAttempts" type="number" min="1" max="10" value="1" required
        /></label>
      </div>
      ${props.bots.length === 0 ? html`<p class="muted">Create a bot through the API first.</p>` : null}
      ${error === null ? null : html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" disabled=${busy || props.bots.length === 0}>Create campaign</button>
    </form>
  `;
}

export function CampaignDetailView(props: { id: string }): VNode {
  const [campaign, setCampaign] = useState<CampaignDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [importResult, setImportResult] = useState<ImportResult | null>(null);
  const [version, setVersion] = useState(0);

  const load = async (): Promise<void> => {
    try {
      setCampaign(await request<CampaignDetail>(`/v1/campaigns/${props.id}`));
    } catch (err) {
      setError(messageOf(err));
    }
  };
  useEffect(() => void load(), [props.id, version]);
  usePolling(load, campaign?.status === 'running' ? 1000 : null);

  const act = async (action: 'start' | 'pause'): Promise<void> => {
    setError(null);
    try {
      await request(`/v1/campaigns/${props.id}/${action}`, { method: 'POST' });
      setVersion((value) => value + 1);
    } catch (err) {
      setError(messageOf(err));
    }
  };

  const upload = async (event: SubmitEvent): Promise<void> => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const file = new FormData(form).get('contacts');
    if (!(file instanceof File) || file.size === 0) {
      setError('Choose a CSV file to upload.');
      return;
    }
    setError(null);
    try {
      const result = await request<ImportResult>(`/v1/campaigns/${props.id}/contacts`, {
        method: 'POST',
        body: await file.text(),
        contentType: 'text/csv',
      });
      setImportResult(result);
      form.reset();
      setVersion((value) => value + 1);
    } catch (err) {
      setError(messageOf(err));
    }
  };

  if (campaign === null) {
    return html`<section>
      <h1>Campaign</h1>
      ${error === null ? html`<p class="muted">Loading…</p>` : html`<p class="error" role="alert">${error}</p>`}
    </section>`;
  }
  const progress = campaign.progress;
  const finished = progress.done + progress.failed;
  return html`
    <section aria-labelledby="campaign-title">
      <p><a href="/campaigns" onClick=${onLinkClick}>← All campaigns</a></p>
      <header class="view-header">
        <h1 id="campaign-title">${campaign.name}</h1>
        <span class=${`badge ${campaign.status}`} data-testid="campaign-status"
          >${campaign.status}</span
        >
      </header>
      ${error === null ? null : html`<p class="error" role="alert">${error}</p>`}
      <div class="actions">
        <button
          type="button"
          onClick=${() => act('start')}
          disabled=${campaign.status === 'running' || campaign.status === 'completed'}
        >
          ${campaign.status === 'paused' ? 'Resume' : 'Start'}
        </button>
        <button
          type="button"
          onClick=${() => act('pause')}
          disabled=${campaign.status !== 'running'}
        >
          Pause
        </button>
        <a href=${`/calls?campaignId=${campaign.id}`} onClick=${onLinkClick}
          >Calls of this campaign</a
        >
      </div>
      <h2>Progress</h2>
      <label class="progress">
        <span>${progressSummary(progress)}</span>
        <progress
          max=${Math.max(1, progress.total)}
          value=${finished}
          aria-label="Campaign progress"
        ></progress>
      </label>
      <h2>Outcomes</h2>
      <${BarChart} title="Calls by outcome" entries=${Object.entries(progress.byOutcome)} />
      <form class="panel" onSubmit=${upload} aria-labelledby="import-title">
        <h2 id="import-title">Import contacts</h2>
        <p class="muted">${CSV_HINT}</p>
        <label>Contacts CSV <input type="file" name="contacts" accept=".csv,text/csv" /></label>
        <button type="submit">Upload</button>
      </form>
      ${importResult === null ? null : ImportReport(importResult)}
    </section>
  `;
}

function progressSummary(progress: CampaignDetail['progress']): string {
  const finished = progress.done + progress.failed;
  return (
    `${finished} of ${progress.total} contacts finished (${progress.done} done, ` +
    `${progress.failed} failed, ${progress.dialling} dialling, ${progress.pending} pending)`
  );
}

function ImportReport(result: ImportResult): VNode {
  return html`
    <section class="panel" aria-labelledby="import-report-title" data-testid="import-report">
      <h2 id="import-report-title">Import report</h2>
      <p>${result.imported} imported, ${result.rejected.length} rejected.</p>
      ${
        result.rejected.length === 0
          ? null
          : html`<table class="errors">
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col">Errors</th>
                </tr>
              </thead>
              <tbody>
                ${result.rejected.map(
                  (row) =>
                    html`<tr>
                      <th scope="row">${row.line}</th>
                      <td>${row.errors.join('; ')}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }
    </section>
  `;
}
