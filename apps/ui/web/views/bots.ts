/** Bots: read a bot's runtime config and replace it, with the API's validation errors inline. */
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { ApiError, messageOf, request } from '../api.js';
import type { ErrorDetail } from '../api.js';
import { html } from '../html.js';
import { onLinkClick } from '../router.js';
import type { Bot } from '../types.js';

export function BotsView(props: { id: string | null }): VNode {
  const [bots, setBots] = useState<Bot[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    request<{ items: Bot[] }>('/v1/bots').then(
      (body) => setBots(body.items),
      (err: unknown) => setError(messageOf(err)),
    );
  }, [version]);

  const selected = bots?.find((bot) => bot.id === props.id) ?? bots?.[0] ?? null;
  return html`
    <section aria-labelledby="bots-title">
      <header class="view-header"><h1 id="bots-title">Bots</h1></header>
      ${error === null ? null : html`<p class="error" role="alert">${error}</p>`}
      ${
        bots === null
          ? html`<p class="muted">Loading…</p>`
          : bots.length === 0
            ? html`<p class="muted">No bot yet. Create one with <code>POST /v1/bots</code>.</p>`
            : html`<div class="split">
                <nav aria-label="Bots">
                  <ul class="list">
                    ${bots.map(
                      (bot) =>
                        html`<li>
                          <a
                            href=${`/bots/${bot.id}`}
                            onClick=${onLinkClick}
                            aria-current=${bot.id === selected?.id ? 'page' : undefined}
                          >
                            ${bot.name} <span class="muted">rev ${bot.revision}</span>
                          </a>
                        </li>`,
                    )}
                  </ul>
                </nav>
                ${
                  selected === null
                    ? null
                    : html`<${BotEditor}
                        key=${`${selected.id}:${selected.revision}`}
                        bot=${selected}
                        onSaved=${() => setVersion((value) => value + 1)}
                      />`
                }
              </div>`
      }
    </section>
  `;
}

function BotEditor(props: { bot: Bot; onSaved: () => void }): VNode {
  const [name, setName] = useState(props.bot.name);
  const [text, setText] = useState(JSON.stringify(props.bot.config, null, 2));
  const [message, setMessage] = useState<string | null>(null);
  const [details, setDetails] = useState<ErrorDetail[]>([]);
  const [saved, setSaved] = useState(false);

  const save = async (event: SubmitEvent): Promise<void> => {
    event.preventDefault();
    setSaved(false);
    setDetails([]);
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch (err) {
      setMessage(`The config is not valid JSON: ${messageOf(err)}`);
      return;
    }
    try {
      await request<Bot>(`/v1/bots/${props.bot.id}`, { method: 'PUT', body: { name, config } });
      setMessage(null);
      setSaved(true);
      props.onSaved();
    } catch (err) {
      setMessage(messageOf(err));
      if (err instanceof ApiError) setDetails(err.details);
    }
  };

  const invalid = message !== null;
  return html`
    <form class="panel editor" onSubmit=${save} aria-labelledby="bot-editor-title" novalidate>
      <h2 id="bot-editor-title">
        ${props.bot.name} <span class="muted">revision ${props.bot.revision}</span>
      </h2>
      <label
        >Name
        <input
          value=${name}
          onInput=${(event: Event) => setName((event.currentTarget as HTMLInputElement).value)}
          required
      /></label>
      <label for="bot-config">Runtime config (JSON)</label>
      <textarea
        id="bot-config"
        spellcheck=${false}
        rows="24"
        value=${text}
        aria-invalid=${invalid}
        aria-describedby="bot-config-errors"
        onInput=${(event: Event) => setText((event.currentTarget as HTMLTextAreaElement).value)}
      ></textarea>
      <div id="bot-config-errors" role="alert">
        ${
          message === null
            ? null
            : html`<p class="error">
                ${details.length === 0 ? message : 'voxbridge rejected the config:'}
              </p>`
        }
        ${
          details.length === 0
            ? null
            : html`<ul class="error-details">
                ${details.map((detail) => html`<li><code>${detail.path ?? 'config'}</code>: ${detail.message}</li>`)}
              </ul>`
        }
      </div>
      ${saved ? html`<p class="ok" role="status">Saved.</p>` : null}
      <button type="submit">Save</button>
    </form>
  `;
}
