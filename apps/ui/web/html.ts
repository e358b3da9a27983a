/**
 * `html` tagged templates for Preact (htm), used in place of JSX so the sources are plain
 * TypeScript that `tsc` checks without a JSX setting.
 */
export { html } from 'htm/preact';
