#!/usr/bin/env node
// Bundles the compiled worker (dist/main.js and everything it imports) into
// dist/worker.mjs, the file that `voxfleet start` runs (the container's CMD should too).
// Node then reads a few files instead of resolving and loading a few hundred modules, which
// saves the module loader's memory (bench/worker measures it). Modules that the worker loads with a dynamic
// import() become chunks under dist/chunks/ and still load only when first needed.
// Native addons and the LiveKit SDKs stay outside the bundle and load from node_modules.
//
// Run after `tsc -p tsconfig.build.json` (scripts/build.mjs does both).
import { rm, writeFile } from 'node:fs/promises';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;

const external = [
  // Native addons are loaded from node_modules with require().
  'better-sqlite3',
  '@livekit/rtc-node',
  // The LiveKit server SDK is loaded on the first LiveKit request only.
  'livekit-server-sdk',
];

// Chunk names carry a content hash, so chunks of earlier builds would pile up.
await rm(`${root}dist/chunks`, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { worker: 'dist/main.js' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  // CommonJS packages in the bundle (ws, pino, prom-client) require() node built-ins.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});

// esbuild's record of which module went into which file, to check what an idle worker loads.
await writeFile(`${root}dist/worker.meta.json`, JSON.stringify(result.metafile));
