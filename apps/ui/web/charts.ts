/** Small inline SVG charts: capacity over time and a horizontal bar per outcome. */
import type { VNode } from 'preact';

import { html } from './html.js';

export interface Series {
  label: string;
  /** CSS class that sets the stroke colour, defined in styles.css. */
  className: string;
  values: number[];
}

const WIDTH = 1000;
const HEIGHT = 220;
const PAD = { left: 36, right: 12, top: 12, bottom: 24 };

/**
 * Draws one line per series over shared timestamps (epoch milliseconds). `windowMs` fixes
 * the x axis to the last window, so the chart does not stretch while history fills up.
 */
export function LineChart(props: {
  title: string;
  times: number[];
  series: Series[];
  windowMs: number;
}): VNode {
  const end = props.times.at(-1) ?? Date.now();
  const start = end - props.windowMs;
  const max = Math.max(1, ...props.series.flatMap((series) => series.values));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const x = (time: number): number => PAD.left + ((time - start) / props.windowMs) * plotWidth;
  const y = (value: number): number => PAD.top + plotHeight - (value / max) * plotHeight;
  const ticks = [0, Math.round(max / 2), max].filter(
    (tick, index, all) => all.indexOf(tick) === index,
  );
  const minutes = Math.round(props.windowMs / 60_000);

  return html`
    <figure class="chart">
      <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label=${props.title}>
        <title>${props.title}</title>
        ${ticks.map(
          (tick) => html`
            <line class="grid" x1=${PAD.left} x2=${WIDTH - PAD.right} y1=${y(tick)} y2=${y(tick)} />
            <text class="axis" x=${PAD.left - 6} y=${y(tick) + 4} text-anchor="end">${tick}</text>
          `,
        )}
        <text class="axis" x=${PAD.left} y=${HEIGHT - 6}>-${minutes} min</text>
        <text class="axis" x=${WIDTH - PAD.right} y=${HEIGHT - 6} text-anchor="end">now</text>
        ${props.series.map((series) => {
          const points = series.values
            .map((value, index) => {
              const time = props.times[index];
              return time === undefined ? '' : `${x(time).toFixed(1)},${y(value).toFixed(1)}`;
            })
            .join(' ');
          return html`<polyline class=${`line ${series.className}`} points=${points} />`;
        })}
      </svg>
      <figcaption>
        ${props.series.map(
          (series) =>
            html`<span class="legend">
              <span class=${`swatch ${series.className}`}></span>
              <span>${`${series.label}: ${series.values.at(-1) ?? 0}`}</span>
            </span>`,
        )}
      </figcaption>
    </figure>
  `;
}

/** Draws one labelled horizontal bar per entry, longest first. */
export function BarChart(props: { title: string; entries: Array<[string, number]> }): VNode {
  const entries = [...props.entries].sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map(([, value]) => value));
  const rowHeight = 24;
  const labelWidth = 180;
  const barWidth = 400;
  const height = Math.max(rowHeight, entries.length * rowHeight);
  if (entries.length === 0) return html`<p class="muted">No outcomes yet.</p>`;
  return html`
    <figure class="chart">
      <svg
        class="bars"
        viewBox="0 0 ${labelWidth + barWidth + 50} ${height}"
        width=${labelWidth + barWidth + 50}
        height=${height}
        role="img"
        aria-label=${props.title}
      >
        <title>${props.title}</title>
        ${entries.map(
          ([label, value], index) => html`
            <text class="axis" x=${labelWidth - 8} y=${index * rowHeight + 16} text-anchor="end"
              >${label}</text
            >
            <rect
              class="bar"
              x=${labelWidth}
              y=${index * rowHeight + 4}
              height=${rowHeight - 8}
              width=${Math.max(2, (value / max) * barWidth)}
            />
            <text
              class="axis"
              x=${labelWidth + (value / max) * barWidth + 6}
              y=${index * rowHeight + 16}
              >${value}</text
            >
          `,
        )}
      </svg>
    </figure>
  `;
}
