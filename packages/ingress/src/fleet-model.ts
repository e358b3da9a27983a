/**
 * Expands a fleet definition into the workers it describes. A worker's id is
 * `<fleet>-<host>-w<n>` with n from 1. The same id is the registry's worker id, the HAProxy
 * server name and the compose service name, so a reservation names the HAProxy server.
 */
import type { Brand, Fleet, FleetDefinition, Host } from './definition.js';

export interface WorkerSlot {
  id: string;
  fleet: string;
  host: Host;
  /** Position on its host, from 0. */
  index: number;
  port: number;
  agentPort: number;
}

export interface ResolvedFleet {
  fleet: Fleet;
  brand: Brand;
  domains: string[];
  pool: string;
  workers: WorkerSlot[];
}

/** Lists each fleet with its brand, domains and workers, in definition order. */
export function resolveFleets(definition: FleetDefinition): ResolvedFleet[] {
  return definition.fleets.map((fleet) => {
    const brand = definition.brands.find((candidate) => candidate.name === fleet.brand);
    if (brand === undefined)
      throw new Error(`fleet ${fleet.name} names unknown brand ${fleet.brand}`);
    const workers: WorkerSlot[] = [];
    for (const host of fleet.hosts) {
      for (let index = 0; index < fleet.workersPerHost; index++) {
        workers.push({
          id: `${fleet.name}-${host.name}-w${index + 1}`,
          fleet: fleet.name,
          host,
          index,
          port: fleet.workerBasePort + index,
          agentPort: fleet.agentBasePort + index,
        });
      }
    }
    return {
      fleet,
      brand,
      domains: fleet.domains ?? brand.domains,
      pool: fleet.pool ?? fleet.name,
      workers,
    };
  });
}

/** Builds a worker's public base URL: its fleet's first domain with the worker id in the path. */
export function workerPublicUrl(resolved: ResolvedFleet, worker: WorkerSlot): string {
  const scheme = resolved.brand.tls === undefined ? 'http' : 'https';
  return `${scheme}://${resolved.domains[0] ?? 'invalid'}/w/${worker.id}`;
}

/** HAProxy backend name of a fleet. */
export function backendName(fleet: Fleet): string {
  return `be_${fleet.name.replaceAll('-', '_')}`;
}
