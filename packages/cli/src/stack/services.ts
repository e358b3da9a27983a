/**
 * What `voxfleet start` runs: each service's entry module, port and environment.
 */
import { join } from 'node:path';
import { WORKER_NODE_FLAGS } from '@voxfleet/worker/node-flags';
import type { StackSecrets } from './secrets.js';

export interface StackLayout {
  host: string;
  basePort: number;
  workers: number;
  dataDir: string;
  simSpeed: number;
  logLevel: string;
  /** Media-stream protocol the sim carrier speaks to the workers; twilio when unset. */
  provider?: 'twilio' | 'exotel' | 'plivo' | 'telnyx';
}

export interface ServiceSpec {
  name: string;
  /** Package export of the entry module, resolved with import.meta.resolve. */
  entry: string;
  url: string;
  env: Record<string, string>;
  /** Services stop in descending order of this number. */
  stopRank: number;
  /** `node` flags of the service's process, before its entry module. */
  nodeFlags?: readonly string[];
}

export function bridgeUrlOf(layout: StackLayout): string {
  return `http://${layout.host}:${layout.basePort}`;
}

/** Returns the URL of the stack's sim carrier, which listens at base port + 20. */
export function carrierUrlOf(layout: StackLayout): string {
  return `http://${layout.host}:${layout.basePort + 20}`;
}

/** Lists the services in start order: voxbridge, sim carrier, workers, voxdialler. */
export function planServices(layout: StackLayout, secrets: StackSecrets): ServiceSpec[] {
  const { host, basePort, dataDir } = layout;
  const bridgeUrl = bridgeUrlOf(layout);
  const diallerPort = basePort + 10;
  const carrierPort = basePort + 20;
  const registryUrl = `sqlite:${join(dataDir, 'registry.db')}`;
  const common = { LOG_LEVEL: layout.logLevel };

  const services: ServiceSpec[] = [
    {
      name: 'voxbridge',
      entry: '@voxfleet/bridge/main',
      url: bridgeUrl,
      stopRank: 0,
      env: {
        ...common,
        BRIDGE_HOST: host,
        BRIDGE_PORT: String(basePort),
        BRIDGE_DATA_DIR: join(dataDir, 'bridge'),
        BRIDGE_INTERNAL_TOKEN: secrets.internalToken,
        BRIDGE_BOOTSTRAP_API_KEY: secrets.apiKey,
        REGISTRY_URL: registryUrl,
      },
    },
    {
      name: 'carrier-sim',
      entry: '@voxfleet/carrier-sim/main',
      url: `http://${host}:${carrierPort}`,
      stopRank: 1,
      env: {
        ...common,
        CARRIER_SIM_HOST: host,
        CARRIER_SIM_PORT: String(carrierPort),
        CARRIER_SIM_SPEED: String(layout.simSpeed),
        CARRIER_CALLBACK_SECRET: secrets.carrierSecret,
      },
    },
  ];

  for (let index = 1; index <= layout.workers; index++) {
    const port = basePort + 100 + index;
    const workerId = `worker-${index}`;
    services.push({
      name: workerId,
      entry: '@voxfleet/worker/main',
      url: `http://${host}:${port}`,
      stopRank: 2,
      nodeFlags: WORKER_NODE_FLAGS,
      env: {
        ...common,
        WORKER_ID: workerId,
        WORKER_HOST: host,
        WORKER_PORT: String(port),
        REGISTRY_URL: registryUrl,
        BRIDGE_URL: bridgeUrl,
        BRIDGE_INTERNAL_TOKEN: secrets.internalToken,
        WORKER_DATA_DIR: join(dataDir, 'workers', workerId),
        WORKER_TTS_CACHE_DIR: join(dataDir, 'tts-cache'),
        MAX_CONCURRENT_CALLS: '1',
      },
    });
  }

  services.push({
    name: 'voxdialler',
    entry: '@voxfleet/dialler/main',
    url: `http://${host}:${diallerPort}`,
    stopRank: 3,
    env: {
      ...common,
      DIALLER_HOST: host,
      DIALLER_PORT: String(diallerPort),
      BRIDGE_URL: bridgeUrl,
      BRIDGE_INTERNAL_TOKEN: secrets.internalToken,
      REGISTRY_URL: registryUrl,
      CARRIER: 'sim',
      CARRIER_SIM_URL: `http://${host}:${carrierPort}`,
      CARRIER_PROVIDER: layout.provider ?? 'twilio',
      CARRIER_CALLBACK_SECRET: secrets.carrierSecret,
    },
  });
  return services;
}
