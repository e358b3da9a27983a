/**
 * Test certificates for TLS to redis-server: a private CA and a server certificate for
 * 127.0.0.1 signed by it, made with the `openssl` command in a temp directory.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The CA certificate in PEM, for a client's `tls.ca`. */
  ca: string;
}

/** Creates the CA and the server certificate in `dir`, valid for two days. */
export async function createTestCertificates(dir: string): Promise<TlsFiles> {
  const file = (name: string) => join(dir, name);
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=voxfleet test CA',
  ]);
  await run('openssl', [
    'req',
    ...ecKey,
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await writeFile(file('server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.crt'),
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
  ]);
  return {
    caFile: file('ca.crt'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    ca: await readFile(file('ca.crt'), 'utf8'),
  };
}

/** redis-server arguments that serve TLS only, on `port`, for clients and replication. */
export function tlsServerArgs(files: TlsFiles, port: number): string[] {
  return [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    files.certFile,
    '--tls-key-file',
    files.keyFile,
    '--tls-ca-cert-file',
    files.caFile,
    '--tls-auth-clients',
    'no',
    '--tls-replication',
    'yes',
  ];
}
