#!/usr/bin/env node
/**
 * The `voxfleet` command.
 *
 *   voxfleet start [--workers 4] [--base-port 7700] [--data-dir .voxfleet] [--sim-speed 1]
 *   voxfleet demo  [--contacts FILE] [--bot FILE] [--timeout-ms 900000] ...
 *   voxfleet ingress render|add-fleet FILE ...
 */
import { parseArgs } from 'node:util';
import { CliError } from './errors.js';
import { runStartCommand } from './commands/start.js';
import { runDemoCommand } from './commands/demo.js';
import { runIngressCommand } from './commands/ingress.js';
import { runFleetCommand } from './commands/fleet.js';

const USAGE = `usage: voxfleet <command> [flags]

commands:
  start   run voxbridge, voxdialler, the sim carrier and N workers on this machine
  demo    run the demo campaign against a running stack (or start one for the run)
  ingress render a fleet definition to HAProxy and compose files (voxfleet ingress --help)
  fleet   show worker slots in the capacity registry, drain or undrain (voxfleet fleet --help)

flags for start and demo:
  --workers N           worker processes, each holding one call (default 4)
  --base-port PORT      voxbridge port; the others follow it (default 7700)
  --data-dir DIR        local state: databases, recordings, secrets (default .voxfleet)
  --sim-speed X         sim carrier speed, 1 is real time (default 1)
  --provider NAME       media-stream protocol of the sim carrier's calls: twilio, exotel,
                        plivo or telnyx (default twilio); applies to a stack this command starts
  --log-level LEVEL     trace, debug, info, warn or error (default info)

flags for demo:
  --contacts FILE       contacts CSV (default examples/contacts.csv)
  --bot FILE            bot definition JSON (default examples/demo-bot.json)
  --concurrency N       calls at once for the campaign (default 4)
  --max-attempts N      attempts per contact (default 2)
  --retry-backoff-ms MS first retry delay, doubled each time (default 3000)
  --timeout-ms MS       give up after this long (default 900000)
  --bridge-url URL      run against this voxbridge (for example a Compose stack) instead
                        of the local stack; needs --api-key
  --api-key KEY         API key for --bridge-url
  --inbound N           after the campaign, have the sim carrier ring the demo bot's number
                        N times (--provider picks the carrier's webhook and markup; default 0)
  --carrier-url URL     sim carrier for --inbound with --bridge-url (default: the local
                        stack's, base port + 20)
  --carrier-secret S    the sim carrier's CARRIER_CALLBACK_SECRET, for --carrier-url
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'ingress') return await runIngressCommand(rest);
  if (command === 'fleet') return await runFleetCommand(rest);
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  if (
    command === undefined ||
    command === 'help' ||
    command === '--help' ||
    command === '-h' ||
    wantsHelp
  ) {
    process.stdout.write(USAGE);
    return command === undefined && !wantsHelp ? 2 : 0;
  }
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      workers: { type: 'string' },
      'base-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'sim-speed': { type: 'string' },
      provider: { type: 'string' },
      'log-level': { type: 'string' },
      contacts: { type: 'string' },
      bot: { type: 'string' },
      concurrency: { type: 'string' },
      'max-attempts': { type: 'string' },
      'retry-backoff-ms': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'bridge-url': { type: 'string' },
      'api-key': { type: 'string' },
      inbound: { type: 'string' },
      'carrier-url': { type: 'string' },
      'carrier-secret': { type: 'string' },
    },
  });
  switch (command) {
    case 'start':
      return await runStartCommand(values);
    case 'demo':
      return await runDemoCommand(values);
    default:
      process.stderr.write(`voxfleet: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message =
      error instanceof CliError || (error instanceof Error && 'code' in error)
        ? error.message
        : String(error instanceof Error ? (error.stack ?? error) : error);
    process.stderr.write(`voxfleet: ${message}\n`);
    process.exitCode = 1;
  },
);
