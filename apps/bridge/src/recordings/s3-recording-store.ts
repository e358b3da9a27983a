/**
 * Recordings as objects in one S3 bucket (AWS S3, MinIO or another S3-compatible server).
 * Uploads stream through `@aws-sdk/lib-storage`, which sends a body smaller than one part
 * as a single PutObject and a larger one as a multipart upload. S3 makes an object visible
 * only once PutObject or CompleteMultipartUpload succeeds, so readers never see a partial
 * recording, and a failed upload aborts its multipart upload.
 */
import { basename } from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { BucketLocationConstraint } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

import { assertRecordingKey } from './keys.js';
import type { OpenedRecording, RecordingStore, StoredRecording } from './types.js';

export interface S3RecordingStoreOptions {
  bucket: string;
  region: string;
  /** Endpoint URL of an S3-compatible server, such as `http://minio:9000`; unset for AWS. */
  endpoint?: string | undefined;
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO and s3rver need. Defaults to false. */
  forcePathStyle?: boolean | undefined;
  /** Static credentials; when unset, the AWS SDK's default credential chain applies. */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** When true, `getDownloadUrl` returns presigned GET URLs. Defaults to false. */
  presign?: boolean | undefined;
  /** Lifetime of a presigned URL. Defaults to 900 s; SigV4 allows at most 604800 s. */
  presignTtlSeconds?: number | undefined;
  /** Multipart part size. Defaults to 5 MiB, the smallest part S3 accepts. */
  partSizeBytes?: number | undefined;
}

const MIN_PART_BYTES = 5 * 1024 * 1024;
const DEFAULT_PRESIGN_TTL_SECONDS = 900;

/** A pass-through stream that counts the bytes flowing to the upload. */
class ByteCounter extends Transform {
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/** Returns true for S3's "no such key" or "no such bucket" errors (HTTP 404). */
function isNotFound(err: unknown): boolean {
  return err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404;
}

export class S3RecordingStore implements RecordingStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #region: string;
  readonly #presign: boolean;
  readonly #presignTtlSeconds: number;
  readonly #partSizeBytes: number;
  #closed = false;

  constructor(options: S3RecordingStoreOptions) {
    const partSizeBytes = options.partSizeBytes ?? MIN_PART_BYTES;
    if (partSizeBytes < MIN_PART_BYTES) {
      throw new Error(`partSizeBytes must be at least ${MIN_PART_BYTES}, got ${partSizeBytes}`);
    }
    this.#bucket = options.bucket;
    this.#region = options.region;
    this.#presign = options.presign ?? false;
    this.#presignTtlSeconds = options.presignTtlSeconds ?? DEFAULT_PRESIGN_TTL_SECONDS;
    this.#partSizeBytes = partSizeBytes;
    this.#client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: options.credentials,
    });
  }

  /** Creates the bucket when it is missing. Idempotent, also when another process races it. */
  async init(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      await this.#client.send(
        new CreateBucketCommand({
          Bucket: this.#bucket,
          // us-east-1 is the default location and rejects an explicit constraint.
          ...(this.#region === 'us-east-1'
            ? {}
            : {
                // The SDK's union lists AWS regions only; other S3 servers name their own.
                CreateBucketConfiguration: {
                  LocationConstraint: this.#region as BucketLocationConstraint,
                },
              }),
        }),
      );
    } catch (err) {
      if (err instanceof S3ServiceException && err.name === 'BucketAlreadyOwnedByYou') return;
      throw err;
    }
  }

  put(key: string, source: Readable): Promise<StoredRecording> {
    assertRecordingKey(key);
    const counter = new ByteCounter();
    // pipeline() attaches to `source` now, before put() returns, as the contract requires.
    const piped = pipeline(source, counter);
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#bucket, Key: key, Body: counter, ContentType: 'audio/wav' },
      partSize: this.#partSizeBytes,
      // One part in flight besides the one being filled bounds memory to about two parts.
      queueSize: 1,
      leavePartsOnError: false,
    });
    return this.#finishUpload(upload, piped, counter, key);
  }

  async #finishUpload(
    upload: Upload,
    piped: Promise<void>,
    counter: ByteCounter,
    key: string,
  ): Promise<StoredRecording> {
    try {
      await Promise.all([piped, upload.done()]);
      return { key, bytes: counter.bytes };
    } catch (err) {
      // A failed source never reaches its last part, so S3 keeps the earlier object.
      counter.destroy();
      await upload.abort().catch(() => undefined);
      throw err;
    }
  }

  async open(key: string): Promise<OpenedRecording | null> {
    assertRecordingKey(key);
    try {
      const output = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: key }),
      );
      const body = output.Body;
      if (!(body instanceof Readable)) {
        throw new Error(`S3 returned no readable body for recording "${key}"`);
      }
      return { stream: body, bytes: output.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    assertRecordingKey(key);
    // DeleteObject of a missing key succeeds on S3 too.
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
  }

  /**
   * Returns a presigned GET URL valid for `presignTtlSeconds`, or null when presigning is
   * off or the object is missing. The URL names the endpoint the store was configured
   * with, so clients must be able to reach that endpoint.
   */
  async getDownloadUrl(key: string): Promise<string | null> {
    assertRecordingKey(key);
    if (!this.#presign) return null;
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    const command = new GetObjectCommand({
      Bucket: this.#bucket,
      Key: key,
      ResponseContentType: 'audio/wav',
      ResponseContentDisposition: `attachment; filename="${basename(key)}"`,
    });
    return getSignedUrl(this.#client, command, { expiresIn: this.#presignTtlSeconds });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }
}
