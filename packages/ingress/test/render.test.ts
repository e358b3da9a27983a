import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import {
  IngressError,
  addFleetToDefinition,
  parseDefinition,
  renderDefinitionFile,
  renderFleetFiles,
} from '../src/index.js';

const run = promisify(execFile);
const EXAMPLE = new URL('../../../examples/fleet.yaml', import.meta.url);
let dir = '';
let example = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'voxfleet-ingress-render-'));
  example = await readFile(EXAMPLE, 'utf8');
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** Rewrites the example so its certificates and run dir are in the temp dir. */
async function localExample(): Promise<string> {
  for (const brand of ['acme', 'globex']) {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=voice.${brand}.example`,
      '-keyout',
      join(dir, `${brand}.key`),
      '-out',
      join(dir, `${brand}.crt`),
    ]);
    const pem =
      (await readFile(join(dir, `${brand}.crt`), 'utf8')) +
      (await readFile(join(dir, `${brand}.key`), 'utf8'));
    await writeFile(join(dir, `${brand}.pem`), pem);
  }
  return example
    .replaceAll('/etc/haproxy/certs', dir)
    .replace('runDir: /var/run/haproxy', `runDir: ${dir}`)
    .replace('maxConnections: 20000', 'maxConnections: 1000');
}

function invalidIssues(text: string): string[] {
  try {
    parseDefinition(text, 'fleet.yaml');
  } catch (err) {
    assert.ok(err instanceof IngressError);
    assert.equal(err.code, 'INGRESS_DEFINITION_INVALID');
    return err.issues;
  }
  assert.fail('definition was accepted');
}

test('example renders byte-identical files twice', () => {
  const first = renderFleetFiles(parseDefinition(example, 'fleet.yaml'));
  const second = renderFleetFiles(parseDefinition(example, 'fleet.yaml'));
  assert.deepEqual(
    [...first.keys()],
    [
      'haproxy.cfg',
      'hosts/acme-1.compose.yaml',
      'hosts/acme-2.compose.yaml',
      'hosts/globex-1.compose.yaml',
      'ingress.compose.yaml',
    ],
  );
  for (const [path, text] of first) assert.equal(second.get(path), text, path);
});

test('multi-brand config passes haproxy -c', async () => {
  const file = join(dir, 'fleet.yaml');
  await writeFile(file, await localExample());
  const written = await renderDefinitionFile(file, join(dir, 'out'));
  assert.equal(written.length, 5);
  const { stdout } = await run('haproxy', ['-c', '-f', join(dir, 'out', 'haproxy.cfg')]);
  assert.match(stdout, /Configuration file is valid/);
  const config = await readFile(join(dir, 'out', 'haproxy.cfg'), 'utf8');
  assert.match(
    config,
    /use_backend be_acme_main if \{ var\(txn\.host\) -m str voice\.acme\.example calls\.acme\.example \}/,
  );
  assert.match(
    config,
    /use_backend be_globex_main if \{ var\(txn\.host\) -m str voice\.globex\.example \}/,
  );
  assert.equal(config.match(/^ {4}server /gm)?.length, 8 + 8 + 6);
  assert.equal(config.match(/maxconn 1$/gm)?.length, 2, 'one default-server line per backend');
});

test('host compose file runs one-call workers with agent ports', () => {
  const files = renderFleetFiles(parseDefinition(example, 'fleet.yaml'));
  const compose = parse(files.get('hosts/globex-1.compose.yaml') ?? '') as {
    services: Record<string, { environment: Record<string, string>; ports: string[] }>;
  };
  const services = Object.entries(compose.services);
  assert.equal(services.length, 6);
  for (const [id, service] of services) {
    assert.equal(service.environment['WORKER_ID'], id);
    assert.equal(service.environment['MAX_CONCURRENT_CALLS'], '1');
    assert.equal(service.environment['WORKER_POOL'], 'globex-main');
    assert.equal(service.environment['WORKER_PUBLIC_URL'], `https://voice.globex.example/w/${id}`);
    assert.ok(
      service.ports.includes(
        `10.0.2.11:${service.environment['WORKER_AGENT_PORT']}:${service.environment['WORKER_AGENT_PORT']}`,
      ),
    );
  }
});

test('compose files keep to what docker-compose 1.29 reads', () => {
  const files = renderFleetFiles(parseDefinition(example, 'fleet.yaml'));
  const host = files.get('hosts/acme-2.compose.yaml') ?? '';
  const ingress = files.get('ingress.compose.yaml') ?? '';
  // 1.29 rejects a top-level `name:`, so each file names its project in the -p of its command.
  assert.deepEqual(Object.keys(parse(host) as object), ['services', 'volumes']);
  assert.deepEqual(Object.keys(parse(ingress) as object), ['services', 'volumes']);
  assert.match(host, /^# {3}docker compose -p voxfleet-acme-2 -f acme-2\.compose\.yaml up -d$/m);
  assert.match(
    ingress,
    /^# {3}docker compose -p voxfleet-ingress -f ingress\.compose\.yaml up -d$/m,
  );

  const worker = (parse(host) as { services: Record<string, { image: string; volumes: string[] }> })
    .services['acme-main-acme-2-w1'];
  assert.equal(worker?.image, 'voxfleet/voxcore-worker:latest');
  assert.deepEqual(worker.volumes, ['acme-main-acme-2-w1-data:/data']);
  const haproxy = (parse(ingress) as { services: Record<string, Record<string, unknown>> })
    .services['haproxy'];
  assert.equal(haproxy?.['network_mode'], 'host');
  assert.equal(haproxy['user'], 'root', 'the haproxy user cannot bind :80 on the host network');
});

test('invalid definition lists each path and reason', () => {
  const issues = invalidIssues(
    example
      .replace('brand: globex', 'brand: initech')
      .replace('workersPerHost: 8', 'workersPerHost: 0')
      .replace('tunnelMs: 660000', 'tunnelMs: 600000'),
  );
  assert.ok(
    issues.some((line) => line.startsWith('fleets[0].workersPerHost:')),
    issues.join('\n'),
  );
  const references = invalidIssues(
    example
      .replace('brand: globex', 'brand: initech')
      .replace('tunnelMs: 660000', 'tunnelMs: 600000'),
  );
  assert.ok(
    references.includes('fleets[1].brand: unknown brand "initech"; define it under brands'),
    references.join('\n'),
  );
  assert.ok(
    references.some((line) => line.startsWith('timeouts.tunnelMs: 600000 must exceed')),
    references.join('\n'),
  );
  assert.ok(
    references.some((line) =>
      line.startsWith('brands[1].domains[0]: voice.globex.example is routed to no fleet'),
    ),
  );
});

test('invalid YAML and unknown keys are rejected', () => {
  const yaml = invalidIssues('version: 1\nbrands: [');
  assert.equal(yaml.length, 1);
  const unknown = invalidIssues(example.replace('version: 1', 'version: 1\nbackends: []'));
  assert.ok(
    unknown.some((line) => line.includes('backends')),
    unknown.join('\n'),
  );
});

test('add-fleet appends a fleet and keeps comments', () => {
  const options = {
    brand: 'acme',
    name: 'acme-overflow',
    domains: ['calls.acme.example'],
    hosts: [{ name: 'acme-3', address: '10.0.1.13' }],
    workersPerHost: 4,
  };
  // acme-main serves every acme domain until it names its own.
  assert.throws(
    () => addFleetToDefinition(example, 'fleet.yaml', options),
    (err: unknown) => {
      assert.ok(err instanceof IngressError);
      assert.ok(
        err.issues.includes('fleets[0].domains: required because brand "acme" has several fleets'),
      );
      assert.ok(
        err.issues.includes(
          'fleets[2].domains[0]: calls.acme.example is already routed to fleet "acme-main"',
        ),
      );
      return true;
    },
  );

  const narrowed = example.replace(
    '    brand: acme\n',
    '    brand: acme\n    domains: [voice.acme.example]\n',
  );
  const added = addFleetToDefinition(narrowed, 'fleet.yaml', options);
  assert.match(added, /# Two brands share one HAProxy ingress/);
  const definition = parseDefinition(added, 'fleet.yaml');
  const fleet = definition.fleets.find((candidate) => candidate.name === 'acme-overflow');
  assert.equal(
    fleet?.registryUrl,
    'redis://10.0.1.5:6379/0',
    'registry copied from the brand fleet',
  );
  const config = renderFleetFiles(definition).get('haproxy.cfg') ?? '';
  assert.match(
    config,
    /use_backend be_acme_overflow if \{ var\(txn\.host\) -m str calls\.acme\.example \}/,
  );
  assert.match(config, /server acme-overflow-acme-3-w4 10\.0\.1\.13:8103 agent-port 9103/);
});

test('add-fleet rejects an existing fleet name', () => {
  assert.throws(
    () =>
      addFleetToDefinition(example, 'fleet.yaml', {
        brand: 'acme',
        name: 'acme-main',
        hosts: [{ name: 'acme-9', address: '10.0.1.19' }],
        workersPerHost: 1,
      }),
    { code: 'INGRESS_FLEET_EXISTS' },
  );
});
