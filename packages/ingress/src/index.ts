/**
 * The fleet host ingress: a YAML fleet definition (brands, domains, fleets, hosts, workers
 * per host, TLS certificates, timeouts) rendered to an HAProxy 2.6 configuration and one
 * compose file per host.
 *
 * @example
 * const definition = await loadDefinitionFile('examples/fleet.yaml');
 * await writeRenderedFiles('deploy/rendered', renderFleetFiles(definition));
 */
export {
  FleetDefinition,
  parseDefinition,
  validateDefinition,
  type Brand,
  type Fleet,
  type FleetDefinitionInput,
  type Host,
  type Timeouts,
} from './definition.js';
export { IngressError, type IngressErrorCode } from './errors.js';
export {
  backendName,
  resolveFleets,
  workerPublicUrl,
  type ResolvedFleet,
  type WorkerSlot,
} from './fleet-model.js';
export {
  ADMIN_SOCKET,
  SERVED_BY_HEADER,
  SERVER_STATE_FILE,
  WORKER_HEADER,
  renderHaproxyConfig,
} from './haproxy-config.js';
export {
  INGRESS_PROJECT,
  hostProjectName,
  renderHostComposeFiles,
  renderIngressCompose,
} from './compose.js';
export {
  addFleetToDefinition,
  addFleetToFile,
  loadDefinitionFile,
  renderDefinitionFile,
  renderFleetFiles,
  writeRenderedFiles,
  type AddFleetOptions,
  type RenderedFiles,
} from './render.js';
