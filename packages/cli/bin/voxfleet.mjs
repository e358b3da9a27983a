#!/usr/bin/env node
// Entry of the `voxfleet` bin link. npm creates bin links during `npm install`, before
// `npm run build` writes dist/, and skips a link whose target does not exist yet. This file
// is in the repository, so `npx voxfleet` works in a fresh clone once it is built.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(compiled)) {
  console.error('voxfleet: not built yet: run `npm run build` in the repository root first');
  process.exit(1);
}
await import(compiled.href);
