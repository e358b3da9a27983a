/**
 * `voxfleet ingress`: renders a fleet definition to HAProxy and compose files.
 *
 *   voxfleet ingress render FILE --out DIR
 *   voxfleet ingress add-fleet FILE --brand B --name N --hosts h1=10.0.0.1,h2=10.0.0.2
 *     --workers-per-host K [--domains d1,d2] [--out DIR]
 */
import { parseArgs } from 'node:util';
import { addFleetToFile, renderDefinitionFile } from '@voxfleet/ingress';
import { z } from 'zod';
import { CliError } from '../errors.js';
import { parseFlags } from '../options.js';

export const INGRESS_USAGE = `usage:
  voxfleet ingress render FILE --out DIR
  voxfleet ingress add-fleet FILE --brand BRAND --name NAME --hosts NAME=ADDRESS[,...]
                             --workers-per-host K [--domains D1,D2] [--out DIR]

render      validates the fleet definition FILE (YAML) and writes haproxy.cfg,
            ingress.compose.yaml and hosts/<host>.compose.yaml under DIR
add-fleet   appends a fleet to FILE, then renders again (DIR defaults to
            a "rendered" folder beside FILE)

flags:
  --out DIR               output folder
  --brand BRAND           brand of the new fleet (must exist in FILE)
  --name NAME             fleet name: lower-case letters, digits and dashes
  --hosts LIST            hosts of the fleet as name=address pairs, comma-separated
  --workers-per-host K    one-call workers on each host
  --domains LIST          brand domains routed to this fleet (default: all of them)
  --registry-url URL      registry of the fleet (default: that of a fleet of the brand)
  --bridge-url URL        voxbridge URL (default: that of a fleet of the brand)
`;

const HostList = z
  .string()
  .min(1)
  .transform((text, ctx) =>
    text.split(',').map((pair) => {
      const [name, address, extra] = pair.trim().split('=');
      if (
        name === undefined ||
        name === '' ||
        address === undefined ||
        address === '' ||
        extra !== undefined
      ) {
        ctx.addIssue({ code: 'custom', message: `"${pair}" is not a name=address pair` });
        return { name: '', address: '' };
      }
      return { name, address };
    }),
  );

const CommaList = z
  .string()
  .min(1)
  .transform((text) => text.split(',').map((item) => item.trim()));

const RenderFlags = z.object({ out: z.string().min(1, 'is required') });

const AddFleetFlags = z.object({
  out: z.string().min(1).optional(),
  brand: z.string().min(1, 'is required'),
  name: z.string().min(1, 'is required'),
  hosts: HostList,
  'workers-per-host': z.coerce.number().int().min(1).max(512),
  domains: CommaList.optional(),
  'registry-url': z.string().min(1).optional(),
  'bridge-url': z.string().min(1).optional(),
});

export async function runIngressCommand(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === undefined || subcommand === '--help' || subcommand === 'help') {
    process.stdout.write(INGRESS_USAGE);
    return subcommand === undefined ? 2 : 0;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      brand: { type: 'string' },
      name: { type: 'string' },
      hosts: { type: 'string' },
      'workers-per-host': { type: 'string' },
      domains: { type: 'string' },
      'registry-url': { type: 'string' },
      'bridge-url': { type: 'string' },
    },
  });
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) {
    throw new CliError(
      'CLI_INVALID_FLAG',
      `ingress ${subcommand} takes one definition FILE\n\n${INGRESS_USAGE}`,
    );
  }

  switch (subcommand) {
    case 'render': {
      const flags = parseFlags(RenderFlags, { out: values.out ?? '' });
      report(await renderDefinitionFile(file, flags.out));
      return 0;
    }
    case 'add-fleet': {
      const flags = parseFlags(AddFleetFlags, values);
      const written = await addFleetToFile(file, flags.out ?? defaultOutDir(file), {
        brand: flags.brand,
        name: flags.name,
        hosts: flags.hosts,
        workersPerHost: flags['workers-per-host'],
        ...(flags.domains === undefined ? {} : { domains: flags.domains }),
        ...(flags['registry-url'] === undefined ? {} : { registryUrl: flags['registry-url'] }),
        ...(flags['bridge-url'] === undefined ? {} : { bridgeUrl: flags['bridge-url'] }),
      });
      process.stdout.write(`added fleet ${flags.name} to ${file}\n`);
      report(written);
      return 0;
    }
    default:
      process.stderr.write(`voxfleet: unknown ingress command "${subcommand}"\n\n${INGRESS_USAGE}`);
      return 2;
  }
}

function report(paths: string[]): void {
  for (const path of paths) process.stdout.write(`wrote ${path}\n`);
}

function defaultOutDir(file: string): string {
  const slash = file.lastIndexOf('/');
  return `${slash < 0 ? '.' : file.slice(0, slash)}/rendered`;
}
