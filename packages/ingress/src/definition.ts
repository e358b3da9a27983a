/**
 * The fleet definition: brands with their domains and TLS certificates, fleets of
 * one-call workers spread over hosts, and the ingress timeouts. `parseDefinition` reads
 * the YAML text and returns the validated definition, or throws `IngressError` listing
 * every problem as `path: reason`.
 *
 * @example
 * const definition = parseDefinition(readFileSync('examples/fleet.yaml', 'utf8'), 'fleet.yaml');
 */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { IngressError } from './errors.js';

/** Lower-case letters, digits and dashes: valid as a HAProxy name, a compose service and a DNS label. */
const Name = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,39}$/,
    'must be 1-40 lower-case letters, digits or dashes, starting with a letter',
  );

const Domain = z
  .string()
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    'must be a lower-case domain name such as voice.example.com',
  );

const Port = z.number().int().min(1).max(65535);

/** `address:port`, `*:port` or `:port`, as HAProxy's `bind` takes it. */
const BindAddress = z
  .string()
  .regex(
    /^(\*|[0-9.]*|\[[0-9a-f:]+\]):\d{1,5}$/,
    'must be address:port, such as 0.0.0.0:443 or :443',
  );

const Milliseconds = (min: number) => z.number().int().min(min);

const AbsolutePath = z.string().regex(/^\//, 'must be an absolute path');

export const Timeouts = z
  .object({
    /** TCP connect to a worker. */
    connectMs: Milliseconds(1).default(1_000),
    /** Client and server inactivity before a request completes or the upgrade succeeds. */
    clientMs: Milliseconds(1).default(30_000),
    serverMs: Milliseconds(1).default(30_000),
    httpRequestMs: Milliseconds(1).default(5_000),
    /** Time a request may wait for a busy worker. It is tiny, so a full fleet returns 503 at once. */
    queueMs: Milliseconds(1).max(100).default(1),
    /** Maximum call duration of the bots. The WebSocket tunnel timeout must exceed it. */
    maxCallMs: Milliseconds(1_000).default(600_000),
    /** Inactivity limit of an established WebSocket. */
    tunnelMs: Milliseconds(1_000).default(660_000),
    /** `/ready` health check and agent-check periods. */
    checkIntervalMs: Milliseconds(100).default(1_000),
    agentIntervalMs: Milliseconds(100).default(500),
    /** How long an old HAProxy process keeps serving its calls after a reload. */
    hardStopAfterMs: Milliseconds(1_000).default(720_000),
  })
  .strict()
  .prefault({});

export const Ingress = z
  .object({
    httpBind: BindAddress.default(':80'),
    httpsBind: BindAddress.default(':443'),
    /** Internal stats page and Prometheus exporter; never expose it publicly. */
    statsBind: BindAddress.default('127.0.0.1:8404'),
    /** Holds the admin socket, the server state file and the pid file. */
    runDir: AbsolutePath.default('/var/run/haproxy'),
    /** HAProxy's global `maxconn`. */
    maxConnections: z.number().int().min(1).default(20_000),
    image: z.string().min(1).default('haproxy:2.6'),
  })
  .strict()
  .prefault({});

export const Brand = z
  .object({
    name: Name,
    domains: z.array(Domain).min(1),
    /** PEM file with the certificate chain and private key for the brand's domains. */
    tls: z.object({ certificate: AbsolutePath }).strict().optional(),
  })
  .strict();

export const Host = z
  .object({
    name: Name,
    /** Private address HAProxy reaches the workers on. */
    address: z.union([z.ipv4(), z.ipv6()]),
  })
  .strict();

export const Fleet = z
  .object({
    name: Name,
    brand: Name,
    /** Domains of the brand routed to this fleet; defaults to all of them. */
    domains: z.array(Domain).min(1).optional(),
    /** Registry pool of the workers; defaults to the fleet name. */
    pool: Name.optional(),
    hosts: z.array(Host).min(1),
    workersPerHost: z.number().int().min(1).max(512),
    /** First worker port on each host; worker i (from 0) listens on workerBasePort + i. */
    workerBasePort: Port.default(8100),
    /** First agent-check port on each host, numbered like the worker ports. */
    agentBasePort: Port.default(9100),
    image: z.string().min(1).default('voxfleet/voxcore-worker:latest'),
    registryUrl: z
      .string()
      .regex(/^(redis|rediss):\/\//, 'must be a redis:// URL shared by the fleet'),
    bridgeUrl: z.url(),
    /** Passed to each worker as WORKER_DRAIN_TIMEOUT_MS. */
    drainTimeoutMs: Milliseconds(0).default(600_000),
  })
  .strict();

export const FleetDefinition = z
  .object({
    version: z.literal(1),
    ingress: Ingress,
    timeouts: Timeouts,
    brands: z.array(Brand).min(1),
    fleets: z.array(Fleet).min(1),
  })
  .strict();

export type FleetDefinition = z.infer<typeof FleetDefinition>;
export type FleetDefinitionInput = z.input<typeof FleetDefinition>;
export type Brand = z.infer<typeof Brand>;
export type Fleet = z.infer<typeof Fleet>;
export type Host = z.infer<typeof Host>;
export type Timeouts = z.infer<typeof Timeouts>;

/** Parses YAML text into a validated definition; `source` names the file in errors. */
export function parseDefinition(text: string, source: string): FleetDefinition {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    const reason = err instanceof YAMLParseError ? err.message : String(err);
    throw new IngressError('INGRESS_DEFINITION_INVALID', `${source}: invalid YAML: ${reason}`, {
      cause: err,
      issues: [reason],
    });
  }
  return validateDefinition(document, source);
}

/** Validates a parsed document: the schema first, then the references between sections. */
export function validateDefinition(document: unknown, source: string): FleetDefinition {
  const parsed = FleetDefinition.safeParse(document);
  const issues = parsed.success
    ? checkReferences(parsed.data)
    : parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  if (!parsed.success || issues.length > 0) {
    throw new IngressError(
      'INGRESS_DEFINITION_INVALID',
      `${source}: invalid fleet definition:\n  ${issues.join('\n  ')}`,
      { issues },
    );
  }
  return parsed.data;
}

/** Checks what the schema cannot: unique names, brand references, domains and ports. */
function checkReferences(definition: FleetDefinition): string[] {
  const issues: string[] = [];
  const brands = new Map<string, Brand>();
  definition.brands.forEach((brand, index) => {
    if (brands.has(brand.name))
      issues.push(`brands[${index}].name: duplicate brand "${brand.name}"`);
    brands.set(brand.name, brand);
  });

  const domainOwner = new Map<string, string>();
  definition.brands.forEach((brand, index) => {
    brand.domains.forEach((domain, domainIndex) => {
      const owner = domainOwner.get(domain);
      if (owner !== undefined) {
        issues.push(
          `brands[${index}].domains[${domainIndex}]: ${domain} already belongs to brand "${owner}"`,
        );
      }
      domainOwner.set(domain, brand.name);
    });
  });

  const fleetNames = new Set<string>();
  const hostNames = new Map<string, string>();
  const domainFleet = new Map<string, string>();
  const fleetsOfBrand = new Map<string, number>();
  for (const fleet of definition.fleets) {
    fleetsOfBrand.set(fleet.brand, (fleetsOfBrand.get(fleet.brand) ?? 0) + 1);
  }
  definition.fleets.forEach((fleet, index) => {
    const at = `fleets[${index}]`;
    if (fleetNames.has(fleet.name)) issues.push(`${at}.name: duplicate fleet "${fleet.name}"`);
    fleetNames.add(fleet.name);

    const brand = brands.get(fleet.brand);
    if (brand === undefined) {
      issues.push(`${at}.brand: unknown brand "${fleet.brand}"; define it under brands`);
      return;
    }
    if (fleet.domains === undefined && (fleetsOfBrand.get(fleet.brand) ?? 0) > 1) {
      issues.push(`${at}.domains: required because brand "${fleet.brand}" has several fleets`);
    }
    (fleet.domains ?? brand.domains).forEach((domain, domainIndex) => {
      if (!brand.domains.includes(domain)) {
        issues.push(
          `${at}.domains[${domainIndex}]: ${domain} is not a domain of brand "${brand.name}"`,
        );
      }
      const other = domainFleet.get(domain);
      if (other !== undefined) {
        issues.push(
          `${at}.domains[${domainIndex}]: ${domain} is already routed to fleet "${other}"`,
        );
      }
      domainFleet.set(domain, fleet.name);
    });

    fleet.hosts.forEach((host, hostIndex) => {
      const owner = hostNames.get(host.name);
      if (owner !== undefined) {
        issues.push(
          `${at}.hosts[${hostIndex}].name: host "${host.name}" is already in fleet "${owner}"`,
        );
      }
      hostNames.set(host.name, fleet.name);
    });

    const lastWorkerPort = fleet.workerBasePort + fleet.workersPerHost - 1;
    const lastAgentPort = fleet.agentBasePort + fleet.workersPerHost - 1;
    if (lastWorkerPort > 65535 || lastAgentPort > 65535) {
      issues.push(`${at}.workersPerHost: ${fleet.workersPerHost} workers run past port 65535`);
    }
    const overlap = fleet.workerBasePort <= lastAgentPort && fleet.agentBasePort <= lastWorkerPort;
    if (overlap) {
      issues.push(
        `${at}.agentBasePort: agent ports ${fleet.agentBasePort}-${lastAgentPort} overlap worker ports ${fleet.workerBasePort}-${lastWorkerPort}`,
      );
    }
  });

  definition.brands.forEach((brand, index) => {
    brand.domains.forEach((domain, domainIndex) => {
      if (!domainFleet.has(domain)) {
        issues.push(`brands[${index}].domains[${domainIndex}]: ${domain} is routed to no fleet`);
      }
    });
  });

  const { timeouts } = definition;
  if (timeouts.tunnelMs <= timeouts.maxCallMs) {
    issues.push(
      `timeouts.tunnelMs: ${timeouts.tunnelMs} must exceed timeouts.maxCallMs (${timeouts.maxCallMs}) so no call is cut by the proxy`,
    );
  }
  if (timeouts.hardStopAfterMs < timeouts.tunnelMs) {
    issues.push(
      `timeouts.hardStopAfterMs: ${timeouts.hardStopAfterMs} must be at least timeouts.tunnelMs (${timeouts.tunnelMs}) so a reload lets calls finish`,
    );
  }
  return issues;
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(root)';
  return path
    .map((part, index) => {
      if (typeof part === 'number') return `[${part}]`;
      return index === 0 ? String(part) : `.${String(part)}`;
    })
    .join('');
}
