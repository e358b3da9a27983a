/** The dashboard shell: login, navigation and the view for the current path. */
import type { VNode } from 'preact';
import { useState } from 'preact/hooks';

import { forgetApiKey, messageOf, send, storeApiKey, storedApiKey } from './api.js';
import { html } from './html.js';
import { navigate, onLinkClick, useLocation } from './router.js';
import { BotsView } from './views/bots.js';
import { CallDetailView, CallsView } from './views/calls.js';
import { CampaignDetailView, CampaignsView } from './views/campaigns.js';
import { FleetView } from './views/fleet.js';

const SECTIONS = [
  { path: '/fleet', label: 'Fleet' },
  { path: '/campaigns', label: 'Campaigns' },
  { path: '/calls', label: 'Calls' },
  { path: '/bots', label: 'Bots' },
] as const;

export function App(): VNode {
  const [loggedIn, setLoggedIn] = useState(storedApiKey() !== null);
  const { path, query } = useLocation();

  if (!loggedIn) return html`<${Login} onLogin=${() => setLoggedIn(true)} />`;

  const logout = (): void => {
    forgetApiKey();
    setLoggedIn(false);
  };
  const current = SECTIONS.find((section) => path.startsWith(section.path));
  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <span class="brand">voxui</span>
      <nav aria-label="Main">
        ${SECTIONS.map(
          (section) =>
            html`<a
              href=${section.path}
              onClick=${onLinkClick}
              aria-current=${section === current ? 'page' : undefined}
              >${section.label}</a
            >`,
        )}
      </nav>
      <button type="button" class="link" onClick=${logout}>Log out</button>
    </header>
    <main id="main" tabindex="-1">${viewFor(path, query)}</main>
  `;
}

function viewFor(path: string, query: URLSearchParams): VNode {
  const parts = path
    .split('/')
    .filter((part) => part !== '')
    .map(decodeURIComponent);
  const [section, id] = parts;
  switch (section) {
    case 'campaigns':
      return id === undefined
        ? html`<${CampaignsView} />`
        : html`<${CampaignDetailView} id=${id} />`;
    case 'calls':
      return id === undefined
        ? html`<${CallsView} query=${query} />`
        : html`<${CallDetailView} id=${id} />`;
    case 'bots':
      return html`<${BotsView} id=${id ?? null} />`;
    case 'fleet':
      return html`<${FleetView} />`;
    default:
      navigate('/fleet');
      return html`<${FleetView} />`;
  }
}

function Login(props: { onLogin: () => void }): VNode {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: SubmitEvent): Promise<void> => {
    event.preventDefault();
    const key = String(
      new FormData(event.currentTarget as HTMLFormElement).get('apiKey') ?? '',
    ).trim();
    if (key === '') {
      setError('Enter an API key.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // Any authenticated read checks the key; the bot list is small.
      await send('/v1/bots', { apiKey: key });
      storeApiKey(key);
      props.onLogin();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return html`
    <main class="login">
      <form class="panel" onSubmit=${submit} aria-labelledby="login-title">
        <h1 id="login-title">voxui</h1>
        <p class="muted">Sign in with a voxbridge API key. It is kept in this tab only.</p>
        <label
          >API key <input name="apiKey" type="password" autocomplete="off" required autofocus
        /></label>
        ${error === null ? null : html`<p class="error" role="alert">${error}</p>`}
        <button type="submit" disabled=${busy}>Sign in</button>
      </form>
    </main>
  `;
}
