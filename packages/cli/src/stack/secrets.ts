/**
 * The local stack's secrets: the tenant API key and the internal token that services use
 * between themselves. Generated on first start and kept in `<data dir>/secrets.json`
 * (mode 0600), so `voxfleet demo` and later starts find them.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError } from '../errors.js';

export const StackSecrets = z.object({
  apiKey: z.string().min(16),
  internalToken: z.string().min(16),
  carrierSecret: z.string().min(16),
  bridgeUrl: z.string().url(),
});
export type StackSecrets = z.infer<typeof StackSecrets>;

export function secretsPath(dataDir: string): string {
  return join(dataDir, 'secrets.json');
}

export function readSecrets(dataDir: string): StackSecrets | null {
  let text: string;
  try {
    text = readFileSync(secretsPath(dataDir), 'utf8');
  } catch {
    return null;
  }
  const parsed = StackSecrets.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new CliError(
      'CLI_INVALID_SECRETS',
      `${secretsPath(dataDir)} is invalid (${parsed.error.issues[0]?.message ?? 'unknown'}); delete it to generate new secrets`,
    );
  }
  return parsed.data;
}

/** Loads the secrets, creating them on first use; `bridgeUrl` is always updated. */
export function ensureSecrets(dataDir: string, bridgeUrl: string): StackSecrets {
  const existing = readSecrets(dataDir);
  const secrets: StackSecrets = existing
    ? { ...existing, bridgeUrl }
    : {
        apiKey: `vf_${randomBytes(24).toString('base64url')}`,
        internalToken: randomBytes(24).toString('base64url'),
        carrierSecret: randomBytes(24).toString('base64url'),
        bridgeUrl,
      };
  mkdirSync(dataDir, { recursive: true });
  const temporary = `${secretsPath(dataDir)}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, secretsPath(dataDir));
  return secrets;
}
