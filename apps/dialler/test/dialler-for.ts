import { createLogger } from '@voxfleet/logger';

import { createDialler, SimCarrier, type Dialler, type DiallerOptions } from '../src/index.js';
import { BRIDGE_TOKEN, startStack, type Stack } from './harness.js';

const silent = createLogger({ service: 'voxdialler-test', level: 'silent' });

/** Creates a dialler wired to the stand-ins, pacing fast and without retry jitter. */
export function diallerFor(stack: Stack, overrides: Partial<DiallerOptions> = {}): Dialler {
  return createDialler({
    port: 0,
    bridgeUrl: stack.bridge.url,
    bridgeToken: BRIDGE_TOKEN,
    registry: stack.registry,
    carrier: new SimCarrier({ baseUrl: stack.carrier.url }),
    pacingIntervalMs: 50,
    retryJitterRatio: 0,
    reportRetryBaseDelayMs: 50,
    drainTimeoutMs: 1_000,
    flushTimeoutMs: 1_000,
    logger: silent,
    ...overrides,
  });
}

/** Runs `body` against a fresh stack and a started dialler, and closes both afterwards. */
export async function withDialler(
  stackOptions: Parameters<typeof startStack>[0],
  overrides: Partial<DiallerOptions>,
  body: (stack: Stack, dialler: Dialler, url: string) => Promise<void>,
  prepare: (stack: Stack) => void = () => {},
): Promise<void> {
  const stack = await startStack(stackOptions);
  const dialler = diallerFor(stack, overrides);
  try {
    prepare(stack);
    const { url } = await dialler.start();
    await body(stack, dialler, url);
  } finally {
    await dialler.stop();
    await stack.close();
  }
}
