/**
 * Renders one compose file per host with its workers, and one for the HAProxy ingress.
 * Each worker holds one call (`MAX_CONCURRENT_CALLS=1`), publishes its HTTP and agent-check
 * ports on the host's private address only, and gets the drain timeout as its stop grace
 * period, so `docker compose stop` lets a call finish. Secrets come from the environment
 * of `docker compose` (`BRIDGE_INTERNAL_TOKEN`), never from the definition.
 */
import { stringify } from 'yaml';
import type { FleetDefinition } from './definition.js';
import { resolveFleets, workerPublicUrl, type ResolvedFleet } from './fleet-model.js';

/** Compose project name of the ingress, which prefixes its container and volume names. */
export const INGRESS_PROJECT = 'voxfleet-ingress';

/** Compose project name of a host's workers. */
export function hostProjectName(hostName: string): string {
  return `voxfleet-${hostName}`;
}

const HEADER =
  '# Rendered by `voxfleet ingress render` from the fleet definition.\n' +
  '# Edit the definition and render again rather than editing this file.\n';

/**
 * Header with the command that starts the file. The project name is given with `-p`
 * because docker-compose 1.29 rejects the top-level `name:` key that Compose v2 reads.
 */
function headerWithCommand(project: string, file: string, where: string): string {
  return HEADER + `# Start it ${where}:\n` + `#   docker compose -p ${project} -f ${file} up -d\n`;
}

/** Compose files by host name, in definition order. */
export function renderHostComposeFiles(definition: FleetDefinition): Map<string, string> {
  const files = new Map<string, string>();
  for (const resolved of resolveFleets(definition)) {
    for (const host of resolved.fleet.hosts) {
      files.set(host.name, renderHost(resolved, host.name));
    }
  }
  return files;
}

function renderHost(resolved: ResolvedFleet, hostName: string): string {
  const { fleet } = resolved;
  const services: Record<string, unknown> = {};
  for (const worker of resolved.workers.filter((candidate) => candidate.host.name === hostName)) {
    const bindAddress = worker.host.address.includes(':')
      ? `[${worker.host.address}]`
      : worker.host.address;
    services[worker.id] = {
      image: fleet.image,
      restart: 'unless-stopped',
      // Docker's default SIGTERM drains; the grace period lets the call in progress finish.
      stop_grace_period: `${Math.ceil(fleet.drainTimeoutMs / 1000) + 30}s`,
      environment: {
        WORKER_ID: worker.id,
        WORKER_HOST: '0.0.0.0',
        WORKER_PORT: String(worker.port),
        WORKER_AGENT_PORT: String(worker.agentPort),
        WORKER_PUBLIC_URL: workerPublicUrl(resolved, worker),
        WORKER_POOL: resolved.pool,
        WORKER_LABELS: `fleet=${fleet.name},host=${hostName}`,
        REGISTRY_URL: fleet.registryUrl,
        BRIDGE_URL: fleet.bridgeUrl,
        BRIDGE_INTERNAL_TOKEN: '${BRIDGE_INTERNAL_TOKEN:?set BRIDGE_INTERNAL_TOKEN}',
        MAX_CONCURRENT_CALLS: '1',
        WORKER_DRAIN_TIMEOUT_MS: String(fleet.drainTimeoutMs),
        WORKER_DATA_DIR: '/data',
      },
      ports: [
        `${bindAddress}:${worker.port}:${worker.port}`,
        `${bindAddress}:${worker.agentPort}:${worker.agentPort}`,
      ],
      volumes: [`${worker.id}-data:/data`],
      healthcheck: {
        test: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${worker.port}/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
        ],
        interval: '10s',
        timeout: '3s',
        retries: 3,
      },
    };
  }
  const volumes = Object.fromEntries(Object.keys(services).map((id) => [`${id}-data`, {}]));
  const document = { services, volumes };
  const header = headerWithCommand(
    hostProjectName(hostName),
    `${hostName}.compose.yaml`,
    `on host ${hostName}, with BRIDGE_INTERNAL_TOKEN in the environment`,
  );
  return header + stringify(document, { lineWidth: 0, sortMapEntries: false });
}

/** Compose file that runs HAProxy with the rendered configuration. */
export function renderIngressCompose(definition: FleetDefinition): string {
  const { ingress } = definition;
  const document = {
    services: {
      haproxy: {
        image: ingress.image,
        restart: 'unless-stopped',
        network_mode: 'host',
        // The official image runs as user haproxy, which can neither bind ports below 1024 on
        // the host network (where the container's ip_unprivileged_port_start sysctl cannot be
        // set) nor create the admin socket in the new, root-owned haproxy-run volume.
        user: 'root',
        // -W: master-worker mode, so SIGUSR2 (`docker kill -s USR2`) reloads without dropping calls.
        command: ['haproxy', '-W', '-db', '-f', '/usr/local/etc/haproxy/haproxy.cfg'],
        volumes: [
          './haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro',
          `haproxy-run:${ingress.runDir}`,
          ...uniqueCertificateDirs(definition).map((dir) => `${dir}:${dir}:ro`),
        ],
        stop_grace_period: `${Math.ceil(definition.timeouts.hardStopAfterMs / 1000)}s`,
      },
    },
    volumes: { 'haproxy-run': {} },
  };
  const header = headerWithCommand(
    INGRESS_PROJECT,
    'ingress.compose.yaml',
    'from the folder of haproxy.cfg, which it mounts',
  );
  return header + stringify(document, { lineWidth: 0 });
}

function uniqueCertificateDirs(definition: FleetDefinition): string[] {
  const dirs = new Set<string>();
  for (const brand of definition.brands) {
    if (brand.tls === undefined) continue;
    const path = brand.tls.certificate;
    dirs.add(path.slice(0, path.lastIndexOf('/')) || '/');
  }
  return [...dirs].sort();
}
