/**
 * zod/mini with zod's English messages, for the schemas a worker checks during a call: the
 * stream frames and the bot's runtime config. zod/mini shares zod's parser and messages, but
 * its schemas carry no methods, so the worker's schemas cost about 2 MiB of resident memory
 * where classic zod and `@voxfleet/schema` cost about 14 MiB (docs/benchmarks.md, "Worker").
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// Classic zod sets English on its first schema; zod/mini leaves messages generic without it.
z.config(en());

export { z };
