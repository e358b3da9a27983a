/**
 * `voxfleet demo`: runs the demo campaign against the stack that `voxfleet start` runs
 * from the same data dir. With no stack responding, it starts one for the run (its log goes
 * to `<data dir>/stack.log`) and stops it afterwards. With `--bridge-url` and `--api-key` it
 * uses that voxbridge, for example one in a Compose stack, and starts nothing.
 */
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runDemo, summariseReport } from '../demo/run-demo.js';
import { CliError } from '../errors.js';
import { LocalStack } from '../stack/local-stack.js';
import { readSecrets } from '../stack/secrets.js';
import { bridgeUrlOf, carrierUrlOf } from '../stack/services.js';
import { DemoFlags, parseFlags } from '../options.js';
import { handleStopSignals } from './start.js';

async function isAnswering(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** Polls `GET /health` until it returns 200 or `timeoutMs` passes. */
async function waitUntilAnswering(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isAnswering(url))) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return true;
}

/** How long `--bridge-url` gets to return 200 on `/health`, for a stack that is still starting. */
const BRIDGE_WAIT_MS = 30_000;

export async function runDemoCommand(values: Record<string, unknown>): Promise<number> {
  const flags = parseFlags(DemoFlags, values);
  const dataDir = resolve(flags['data-dir']);
  for (const [flag, file] of [
    ['--contacts', flags.contacts],
    ['--bot', flags.bot],
  ] as const) {
    await access(file, constants.R_OK).catch(() => {
      throw new CliError('CLI_FILE_NOT_FOUND', `${flag} ${file}: file not found or not readable`);
    });
  }
  const out = process.stdout;
  let stack: LocalStack | undefined;
  let bridgeUrl: string;
  let apiKey: string;
  // The sim carrier of the local stack listens at base port + 20 (see stack/services.ts).
  let carrierUrl = flags['carrier-url'] ?? `http://127.0.0.1:${flags['base-port'] + 20}`;
  let carrierSecret = flags['carrier-secret'];

  const existing = readSecrets(dataDir);
  if (flags['bridge-url'] !== undefined && flags['api-key'] !== undefined) {
    if (flags.inbound > 0 && flags['carrier-url'] === undefined) {
      throw new CliError(
        'CLI_INVALID_FLAG',
        '--inbound with --bridge-url needs --carrier-url: the sim carrier that rings the number',
      );
    }
    bridgeUrl = flags['bridge-url'].replace(/\/+$/, '');
    apiKey = flags['api-key'];
    if (!(await waitUntilAnswering(bridgeUrl, BRIDGE_WAIT_MS))) {
      throw new CliError(
        'CLI_BRIDGE_UNREACHABLE',
        `voxbridge at ${bridgeUrl} did not answer GET /health within ${BRIDGE_WAIT_MS} ms; start it or fix --bridge-url`,
      );
    }
    out.write(`using voxbridge at ${bridgeUrl}\n`);
  } else if (existing && (await isAnswering(existing.bridgeUrl))) {
    bridgeUrl = existing.bridgeUrl;
    apiKey = existing.apiKey;
    carrierSecret ??= existing.carrierSecret;
    out.write(`using the running stack at ${bridgeUrl}\n`);
  } else {
    await mkdir(dataDir, { recursive: true });
    const logFile = join(dataDir, 'stack.log');
    const layout = {
      host: '127.0.0.1',
      basePort: flags['base-port'],
      workers: flags.workers,
      dataDir,
      simSpeed: flags['sim-speed'],
      logLevel: flags['log-level'],
      provider: flags.provider,
    };
    out.write(`no stack responds at ${bridgeUrlOf(layout)}; starting one (log: ${logFile})\n`);
    stack = new LocalStack({ ...layout, output: createWriteStream(logFile), colour: false });
    void handleStopSignals(stack, out).then(() => process.exit(130));
    const info = await stack.start();
    bridgeUrl = info.bridgeUrl;
    apiKey = info.apiKey;
    carrierUrl = flags['carrier-url'] ?? carrierUrlOf(layout);
    carrierSecret ??= stack.secrets?.carrierSecret;
  }

  try {
    const report = await runDemo({
      bridgeUrl,
      apiKey,
      botFile: flags.bot,
      contactsFile: flags.contacts,
      concurrency: flags.concurrency,
      maxAttempts: flags['max-attempts'],
      retryBackoffMs: flags['retry-backoff-ms'],
      timeoutMs: flags['timeout-ms'],
      output: out,
      interactive: out.isTTY === true,
      inbound: {
        count: flags.inbound,
        provider: flags.provider,
        carrierUrl,
        carrierSecret,
      },
    });
    out.write(`${summariseReport(report)}\n`);
    return report.problems.length === 0 ? 0 : 1;
  } finally {
    await stack?.stop();
  }
}
