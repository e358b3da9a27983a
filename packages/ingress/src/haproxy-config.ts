/**
 * Renders `haproxy.cfg` for HAProxy 2.6 from a fleet definition.
 *
 * Routing on the public frontend:
 * - `/ws/{botId}` is balanced (leastconn) over the fleet's workers that the agent check
 *   reports `ready`; with none free it gets a 503 after `timeouts.queueMs`.
 * - A request naming a worker, by the `/w/{workerId}` path prefix (stripped before it is
 *   forwarded) or the `x-voxfleet-worker` header, goes to that worker only. `/attach`,
 *   `/attach/{callId}/cancel` and `/livekit/dialout` must name one.
 * - Every other path gets a 404, so `/metrics` and `/drain` stay internal.
 *
 * Each worker is a server with `maxconn 1`. The `/ready` check only proves the worker
 * responds (200 idle, 503 busy), because a busy worker must stay UP for the connections
 * pinned to it; the agent check moves busy, draining and stopping workers out of rotation.
 */
import type { FleetDefinition } from './definition.js';
import { backendName, resolveFleets, type ResolvedFleet } from './fleet-model.js';

export const WORKER_HEADER = 'x-voxfleet-worker';
export const SERVED_BY_HEADER = 'x-voxfleet-served-by';

/** File names inside `ingress.runDir`. */
export const ADMIN_SOCKET = 'admin.sock';
export const SERVER_STATE_FILE = 'server-state';

/** Renders the whole configuration; the same definition always gives the same text. */
export function renderHaproxyConfig(definition: FleetDefinition): string {
  const fleets = resolveFleets(definition);
  const sections = [
    header(),
    globalSection(definition),
    defaultsSection(definition),
    statsFrontend(definition),
    publicFrontend(definition, fleets),
    ...fleets.map((fleet) => fleetBackend(definition, fleet)),
  ];
  return `${sections.join('\n')}`;
}

function header(): string {
  return [
    '# Rendered by `voxfleet ingress render` from the fleet definition.',
    '# Edit the definition and render again rather than editing this file.',
    '',
  ].join('\n');
}

function globalSection(definition: FleetDefinition): string {
  const { ingress, timeouts } = definition;
  return section('global', [
    'master-worker',
    `maxconn ${ingress.maxConnections}`,
    'log stdout format raw local0 info',
    `stats socket ${ingress.runDir}/${ADMIN_SOCKET} mode 600 level admin expose-fd listeners`,
    'stats timeout 30s',
    // Saved with `show servers state` before a reload, so the new process starts with
    // busy workers still drained instead of offering them to new calls.
    `server-state-file ${ingress.runDir}/${SERVER_STATE_FILE}`,
    // An old process keeps its calls after a reload until they end or this passes.
    `hard-stop-after ${timeouts.hardStopAfterMs}ms`,
  ]);
}

function defaultsSection(definition: FleetDefinition): string {
  const { timeouts } = definition;
  return section('defaults', [
    'mode http',
    'log global',
    'option httplog',
    'option dontlognull',
    'load-server-state-from-file global',
    `timeout connect ${timeouts.connectMs}ms`,
    `timeout client ${timeouts.clientMs}ms`,
    `timeout server ${timeouts.serverMs}ms`,
    `timeout http-request ${timeouts.httpRequestMs}ms`,
    '# A call never waits behind a busy worker: a full fleet answers 503 at once.',
    `timeout queue ${timeouts.queueMs}ms`,
    `# Longer than the longest allowed call (${timeouts.maxCallMs}ms).`,
    `timeout tunnel ${timeouts.tunnelMs}ms`,
    // NOTE: `option redispatch` may send a pinned request whose worker refused the
    // connection (before the health check marks it down) to another worker, which then
    // rejects the foreign reservation (403) or stream (404). No test covers that window.
    '# Retry only while no connection to a worker exists, so a call is never sent twice.',
    'retries 2',
    'option redispatch 1',
    'retry-on conn-failure',
  ]);
}

function statsFrontend(definition: FleetDefinition): string {
  return section('frontend fe_stats', [
    `bind ${definition.ingress.statsBind}`,
    'http-request use-service prometheus-exporter if { path /metrics }',
    'monitor-uri /healthz',
    'stats enable',
    'stats uri /stats',
    'stats refresh 5s',
  ]);
}

function publicFrontend(definition: FleetDefinition, fleets: ResolvedFleet[]): string {
  const certificates = definition.brands.flatMap((brand) =>
    brand.tls === undefined ? [] : [brand.tls.certificate],
  );
  const tlsDomains = fleets.flatMap((fleet) =>
    fleet.brand.tls === undefined ? [] : fleet.domains,
  );
  const lines = [`bind ${definition.ingress.httpBind}`];
  if (certificates.length > 0) {
    const crt = certificates.map((path) => `crt ${path}`).join(' ');
    lines.push(`bind ${definition.ingress.httpsBind} ssl ${crt} alpn http/1.1`);
  }
  lines.push(
    'http-request set-var(txn.host) req.hdr(host),field(1,:),lower',
    'acl known_host var(txn.host) -m str ' + fleets.flatMap((fleet) => fleet.domains).join(' '),
    `http-request return status 421 ${jsonError('UNKNOWN_HOST', 'no fleet serves this host')} if !known_host`,
  );
  if (tlsDomains.length > 0) {
    lines.push(
      `http-request redirect scheme https code 308 if !{ ssl_fc } { var(txn.host) -m str ${tlsDomains.join(' ')} }`,
    );
  }
  lines.push(
    '# The worker a request is pinned to: /w/{workerId}/... or the x-voxfleet-worker header.',
    'acl path_pinned path_reg ^/w/[a-z0-9-]+/',
    'http-request set-var(txn.worker) path,field(3,/) if path_pinned',
    'http-request set-path %[path,regsub(^/w/[a-z0-9-]+/,/)] if path_pinned',
    `http-request set-var(txn.worker) req.hdr(${WORKER_HEADER}) if !path_pinned { req.hdr(${WORKER_HEADER}) -m found }`,
    'acl worker_named var(txn.worker) -m found',
    'acl route_stream path_reg ^/ws/[^/]+$',
    'acl route_reserved path /attach /livekit/dialout',
    'acl route_reserved path_reg ^/attach/[^/]+/cancel$',
    `http-request return status 404 ${jsonError('NOT_FOUND', 'no public route at this path')} if !route_stream !route_reserved`,
    `http-request return status 400 ${jsonError('WORKER_NOT_NAMED', `name the reserved worker in the /w/{workerId} path or the ${WORKER_HEADER} header`)} if route_reserved !worker_named`,
  );
  for (const fleet of fleets) {
    lines.push(
      `use_backend ${backendName(fleet.fleet)} if { var(txn.host) -m str ${fleet.domains.join(' ')} }`,
    );
  }
  return section('frontend fe_public', lines);
}

function fleetBackend(definition: FleetDefinition, resolved: ResolvedFleet): string {
  const { timeouts } = definition;
  const name = backendName(resolved.fleet);
  const lines = [
    'balance leastconn',
    'option httpchk',
    'http-check send meth GET uri /ready ver HTTP/1.1 hdr host worker',
    '# 503 is a busy worker: it stays UP for its pinned call and the agent check drains it.',
    'http-check expect rstatus ^(200|503)$',
    `default-server check inter ${timeouts.checkIntervalMs}ms fall 2 rise 1 agent-check agent-inter ${timeouts.agentIntervalMs}ms maxconn 1`,
    `http-response set-header ${SERVED_BY_HEADER} %[srv_name]`,
  ];
  const ids = resolved.workers.map((worker) => worker.id);
  lines.push(
    `http-request return status 503 ${jsonError('WORKER_UNAVAILABLE', 'the named worker is not in this fleet')} if { var(txn.worker) -m found } !{ var(txn.worker) -m str ${ids.join(' ')} }`,
  );
  for (const worker of resolved.workers) {
    lines.push(
      `http-request return status 503 ${jsonError('WORKER_UNAVAILABLE', 'the named worker is down')} if { var(txn.worker) -m str ${worker.id} } !{ srv_is_up(${name}/${worker.id}) }`,
    );
  }
  for (const worker of resolved.workers) {
    lines.push(`use-server ${worker.id} if { var(txn.worker) -m str ${worker.id} }`);
  }
  for (const worker of resolved.workers) {
    lines.push(
      `server ${worker.id} ${formatAddress(worker.host.address)}:${worker.port} agent-port ${worker.agentPort}`,
    );
  }
  return section(`backend ${name}`, lines);
}

function section(title: string, lines: string[]): string {
  return [title, ...lines.map((line) => `    ${line}`), ''].join('\n');
}

/** Formats an `http-request return` payload in the worker's `{ error: { code, message } }` shape. */
function jsonError(code: string, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  return `content-type application/json string '${body}'`;
}

function formatAddress(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
