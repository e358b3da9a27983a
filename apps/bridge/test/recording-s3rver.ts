/**
 * Starts s3rver, an S3-compatible server from npm, on a free loopback port with its files in
 * a temp folder. The tests use it in place of MinIO, which cannot run on the test machines.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { S3RecordingStoreOptions } from '../src/recordings/s3-recording-store.js';

/** The part of s3rver 3.x's API the tests use; the package ships no types. */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}

type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  resetOnClose?: boolean;
}) => S3rverServer;

const require = createRequire(import.meta.url);

/** s3rver accepts any access key whose secret matches the one it was given; these are fake. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface RunningS3rver {
  endpoint: string;
  /** Store options for `bucket` on this server, path-style with the fake credentials. */
  options(bucket: string, extra?: Partial<S3RecordingStoreOptions>): S3RecordingStoreOptions;
  stop(): Promise<void>;
}

export async function startS3rver(): Promise<RunningS3rver> {
  const S3rver = require('s3rver') as S3rverConstructor;
  const dir = await mkdtemp(join(tmpdir(), 'voxbridge-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${address.port}`;
  let stopped: Promise<void> | null = null;
  return {
    endpoint,
    options(bucket, extra = {}) {
      return {
        bucket,
        region: 'us-east-1',
        endpoint,
        forcePathStyle: true,
        credentials: S3RVER_CREDENTIALS,
        ...extra,
      };
    },
    stop() {
      stopped ??= (async () => {
        await server.close();
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
