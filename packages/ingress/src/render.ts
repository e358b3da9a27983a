/**
 * Renders a fleet definition to files and writes them, and adds a fleet to a definition.
 * The output layout under `--out DIR`:
 *
 *   haproxy.cfg                  the ingress configuration
 *   ingress.compose.yaml         HAProxy in master-worker mode with that configuration
 *   hosts/<host>.compose.yaml    each host's workers
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isMap, isSeq, parseDocument } from 'yaml';
import { renderHostComposeFiles, renderIngressCompose } from './compose.js';
import { parseDefinition, validateDefinition, type FleetDefinition } from './definition.js';
import { IngressError } from './errors.js';
import { renderHaproxyConfig } from './haproxy-config.js';

/** Relative path to file content, sorted by path. */
export type RenderedFiles = Map<string, string>;

export function renderFleetFiles(definition: FleetDefinition): RenderedFiles {
  const files: RenderedFiles = new Map();
  files.set('haproxy.cfg', renderHaproxyConfig(definition));
  files.set('ingress.compose.yaml', renderIngressCompose(definition));
  for (const [host, text] of renderHostComposeFiles(definition)) {
    files.set(`hosts/${host}.compose.yaml`, text);
  }
  const paths = [...files.keys()].sort();
  return new Map(paths.map((path) => [path, files.get(path) ?? '']));
}

/** Reads a definition file; throws IngressError when it is missing or invalid. */
export async function loadDefinitionFile(path: string): Promise<FleetDefinition> {
  return parseDefinition(await readText(path), path);
}

/** Writes rendered files under `outDir`, each through a temporary file and a rename. */
export async function writeRenderedFiles(outDir: string, files: RenderedFiles): Promise<string[]> {
  const written: string[] = [];
  for (const [relative, text] of files) {
    const path = join(outDir, relative);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.tmp-${process.pid}`;
    await writeFile(temporary, text, 'utf8');
    await rename(temporary, path);
    written.push(path);
  }
  return written;
}

/** Loads, validates, renders and writes; returns the written paths. */
export async function renderDefinitionFile(path: string, outDir: string): Promise<string[]> {
  const definition = await loadDefinitionFile(path);
  return writeRenderedFiles(outDir, renderFleetFiles(definition));
}

export interface AddFleetOptions {
  brand: string;
  name: string;
  hosts: Array<{ name: string; address: string }>;
  workersPerHost: number;
  domains?: string[];
  registryUrl?: string;
  bridgeUrl?: string;
}

/**
 * Appends a fleet to the definition text, keeping its comments and layout, and validates
 * the result. Registry and bridge URLs default to those of the brand's first fleet, else
 * of the first fleet. Throws IngressError when the fleet exists or the result is invalid.
 */
export function addFleetToDefinition(
  text: string,
  source: string,
  options: AddFleetOptions,
): string {
  // Only the result is validated: a definition may become valid just by gaining the fleet,
  // such as when its domains were moved off another fleet first.
  const document = parseDocument(text);

  if (document.errors.length > 0) {
    const reason = document.errors.map((error) => error.message).join('; ');
    throw new IngressError('INGRESS_DEFINITION_INVALID', `${source}: invalid YAML: ${reason}`, {
      issues: [reason],
    });
  }
  const fleets = document.get('fleets');
  if (!isSeq(fleets) || !isMap(document.contents)) {
    throw new IngressError('INGRESS_DEFINITION_INVALID', `${source}: fleets must be a list`, {
      issues: ['fleets: must be a list'],
    });
  }

  const current = readFleetFields(fleets.toJSON());
  if (current.some((fleet) => fleet.name === options.name)) {
    throw new IngressError(
      'INGRESS_FLEET_EXISTS',
      `${source}: fleet "${options.name}" already exists`,
    );
  }

  const template = current.find((fleet) => fleet.brand === options.brand) ?? current[0];
  const fleet: Record<string, unknown> = {
    name: options.name,
    brand: options.brand,
    ...(options.domains === undefined ? {} : { domains: options.domains }),
    hosts: options.hosts,
    workersPerHost: options.workersPerHost,
    registryUrl: options.registryUrl ?? template?.registryUrl,
    bridgeUrl: options.bridgeUrl ?? template?.bridgeUrl,
  };

  fleets.add(document.createNode(fleet));
  const updated = document.toString({ lineWidth: 0 });
  validateDefinition(parseDocument(updated).toJS(), `${source} with fleet "${options.name}"`);
  return updated;
}

interface FleetFields {
  name?: unknown;
  brand?: unknown;
  registryUrl?: unknown;
  bridgeUrl?: unknown;
}

function readFleetFields(value: unknown): FleetFields[] {
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is FleetFields => typeof item === 'object' && item !== null);
}

/** Adds a fleet to the definition file, writes it back and renders every file again. */
export async function addFleetToFile(
  path: string,
  outDir: string,
  options: AddFleetOptions,
): Promise<string[]> {
  const updated = addFleetToDefinition(await readText(path), path, options);
  const definition = parseDefinition(updated, path);
  await writeRenderedFiles(
    dirname(path),
    new Map([[path.slice(dirname(path).length + 1), updated]]),
  );
  return writeRenderedFiles(outDir, renderFleetFiles(definition));
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new IngressError('INGRESS_DEFINITION_UNREADABLE', `cannot read ${path}: ${String(err)}`, {
      cause: err,
    });
  }
}
