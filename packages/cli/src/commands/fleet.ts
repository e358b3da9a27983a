/**
 * `voxfleet fleet`: reads and changes worker slots in the capacity registry.
 *
 *   voxfleet fleet status [--registry-url URL] [--pool P] [--json]
 *   voxfleet fleet drain|undrain (--worker ID | --host H | --pool P) [--registry-url URL]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openRegistry, type SlotView } from '@voxfleet/registry';
import { z } from 'zod';
import { formatTable } from '../demo/table.js';
import { CliError } from '../errors.js';
import { parseFlags } from '../options.js';

export const FLEET_USAGE = `usage:
  voxfleet fleet status [--registry-url URL] [--pool POOL] [--json]
  voxfleet fleet drain   (--worker ID | --host HOST | --pool POOL) [--registry-url URL]
  voxfleet fleet undrain (--worker ID | --host HOST | --pool POOL) [--registry-url URL]

status    lists every live worker slot: host, pool, state, call and TTL left
drain     stops new reservations on the matching workers; calls in progress finish
undrain   lets the matching workers take calls again

flags:
  --registry-url URL   sqlite:<path>, redis://host:port, redis-sentinel://host:port/<master>
                       or redis-cluster://host:port,host:port; rediss for TLS (default: the local
                       stack's, sqlite:<data dir>/registry.db)
  --data-dir DIR       local state folder of voxfleet start (default .voxfleet)
  --pool POOL          only this pool
  --host HOST          only workers registered with this host
  --worker ID          only this worker
  --json               print the slots as JSON
`;

const FleetFlags = z.object({
  'registry-url': z.string().min(1).optional(),
  'data-dir': z.string().min(1).default('.voxfleet'),
  pool: z.string().min(1).optional(),
  host: z.string().min(1).optional(),
  worker: z.string().min(1).optional(),
  json: z.boolean().default(false),
});

function describeState(slot: SlotView, now: number): string[] {
  const reservation = slot.reservation;
  return [
    slot.workerId,
    slot.host,
    slot.pool,
    slot.draining && slot.state !== 'draining' ? `${slot.state} (draining)` : slot.state,
    reservation === null ? '' : reservation.callId,
    `${Math.max(0, Math.round((slot.expiresAt - now) / 1000))} s`,
  ];
}

/** Runs `voxfleet fleet <action>`; returns the exit code. */
export async function runFleetCommand(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const wantsHelp = (arg: string | undefined) => arg === '--help' || arg === '-h' || arg === 'help';
  if (action === undefined || wantsHelp(action) || rest.some(wantsHelp)) {
    process.stdout.write(FLEET_USAGE);
    return action === undefined ? 2 : 0;
  }
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      'registry-url': { type: 'string' },
      'data-dir': { type: 'string' },
      pool: { type: 'string' },
      host: { type: 'string' },
      worker: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const flags = parseFlags(FleetFlags, values);
  const url = flags['registry-url'] ?? `sqlite:${resolve(flags['data-dir'], 'registry.db')}`;
  const registry = await openRegistry(url);
  try {
    switch (action) {
      case 'status': {
        const slots = await registry.list(flags.pool);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(slots, null, 2)}\n`);
          return 0;
        }
        const now = Date.now();
        const rows = slots
          .sort((a, b) => a.host.localeCompare(b.host) || a.workerId.localeCompare(b.workerId))
          .map((slot) => describeState(slot, now));
        process.stdout.write(
          `${formatTable(['worker', 'host', 'pool', 'state', 'call', 'ttl left'], rows)}\n`,
        );
        const busy = slots.filter((slot) => slot.state === 'busy').length;
        const idle = slots.filter((slot) => slot.state === 'idle').length;
        process.stdout.write(`${slots.length} workers: ${idle} idle, ${busy} busy\n`);
        return 0;
      }
      case 'drain':
      case 'undrain': {
        if (flags.worker === undefined && flags.host === undefined && flags.pool === undefined) {
          throw new CliError(
            'CLI_INVALID_FLAG',
            `fleet ${action} needs --worker, --host or --pool, so it never changes the whole fleet by accident`,
          );
        }
        const changed = await registry.setDrainingWhere(
          { workerId: flags.worker, host: flags.host, pool: flags.pool },
          action === 'drain',
        );
        process.stdout.write(
          `${action === 'drain' ? 'drained' : 'undrained'} ${changed} workers\n`,
        );
        return 0;
      }
      default:
        process.stderr.write(`voxfleet fleet: unknown action "${action}"\n\n${FLEET_USAGE}`);
        return 2;
    }
  } finally {
    await registry.close();
  }
}
