/** `voxfleet start`: runs the local stack until Ctrl-C or SIGTERM. */
import { resolve } from 'node:path';
import { LocalStack } from '../stack/local-stack.js';
import { StackFlags, parseFlags } from '../options.js';

const DUPLICATE_SIGNAL_MS = 1000;

/** Calls `stop` on the first SIGINT/SIGTERM and `kill` on the second. */
export function handleStopSignals(stack: LocalStack, output: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolveStopped) => {
    let signals = 0;
    let firstSignalAt = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      // npm forwards the terminal's SIGINT to this process, which got it already: a repeat
      // within a second is the same Ctrl-C.
      if (signals > 0 && Date.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
      signals++;
      if (signals === 1) {
        firstSignalAt = Date.now();
        output.write(`\n${signal}: stopping (press Ctrl-C again to kill everything)\n`);
        void stack.stop().then(resolveStopped);
      } else {
        stack.kill();
        resolveStopped();
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

export async function runStartCommand(values: Record<string, unknown>): Promise<number> {
  const flags = parseFlags(StackFlags, values);
  const stack = new LocalStack({
    host: '127.0.0.1',
    basePort: flags['base-port'],
    workers: flags.workers,
    dataDir: resolve(flags['data-dir']),
    simSpeed: flags['sim-speed'],
    logLevel: flags['log-level'],
    provider: flags.provider,
    output: process.stdout,
    colour: process.stdout.isTTY === true,
  });
  const stopped = handleStopSignals(stack, process.stdout);

  const info = await stack.start();
  process.stdout.write(
    `\nvoxfleet is running. API docs: ${info.bridgeUrl}/docs  API key: ${info.apiKey}\n` +
      `Run the demo campaign in another terminal: npm run demo\n\n`,
  );
  await stopped;
  return 0;
}
