/** Command-line flags of `voxfleet start` and `voxfleet demo`, validated with zod. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { CliError } from './errors.js';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** A decimal integer flag; `z.coerce` alone would also take `0x10`, `1e3` or an empty string. */
const Integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole decimal number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const StackFlags = z.object({
  workers: Integer(1, 64).default(4),
  'base-port': Integer(1024, 65_000).default(7700),
  'data-dir': z.string().min(1).default('.voxfleet'),
  'sim-speed': z.coerce.number().min(0.1).max(50).default(1),
  provider: z.enum(['twilio', 'exotel', 'plivo', 'telnyx']).default('twilio'),
  'log-level': z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
});

export const DemoFlags = StackFlags.extend({
  contacts: z.string().default(resolve(repositoryRoot, 'examples/contacts.csv')),
  bot: z.string().default(resolve(repositoryRoot, 'examples/demo-bot.json')),
  concurrency: Integer(1, 100).default(4),
  'max-attempts': Integer(1, 10).default(2),
  'retry-backoff-ms': Integer(0, 3_600_000).default(3000),
  'timeout-ms': Integer(10_000, 24 * 3_600_000).default(900_000),
  /** voxbridge to run the demo against in place of the local stack. It needs `api-key`. */
  'bridge-url': z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .optional(),
  'api-key': z.string().min(1).optional(),
  /** Inbound calls to the demo bot after the campaign, placed through the sim carrier. */
  inbound: Integer(0, 100).default(0),
  /** The sim carrier for inbound calls with --bridge-url; the local stack's carrier otherwise. */
  'carrier-url': z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .optional(),
  'carrier-secret': z.string().min(1).optional(),
}).refine((flags) => (flags['bridge-url'] === undefined) === (flags['api-key'] === undefined), {
  message: 'set both --bridge-url and --api-key, or neither',
  path: ['bridge-url'],
});

export type StackFlags = z.infer<typeof StackFlags>;
export type DemoFlags = z.infer<typeof DemoFlags>;

/** Parses flags with `schema`, turning zod issues into one readable error. */
export function parseFlags<T extends z.ZodType>(schema: T, values: unknown): z.infer<T> {
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const reasons = parsed.error.issues.map((issue) => `--${issue.path.join('.')}: ${issue.message}`);
  throw new CliError('CLI_INVALID_FLAG', `invalid flags: ${reasons.join('; ')}`);
}
