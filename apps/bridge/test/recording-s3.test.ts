import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';

import { HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

import { loadEnv } from '../src/env.js';
import { S3RecordingStore } from '../src/recordings/s3-recording-store.js';
import { INTERNAL_TOKEN, createCampaign, makeWav, startTestBridge } from './helpers.js';
import { runRecordingContract } from './recording-contract.js';
import { S3RVER_CREDENTIALS, startS3rver } from './recording-s3rver.js';
import type { RunningS3rver } from './recording-s3rver.js';

let s3rver: RunningS3rver;

before(async () => {
  s3rver = await startS3rver();
});

after(async () => {
  await s3rver.stop();
});

/** Returns a new bucket name, so that tests never share objects. */
function bucketName(): string {
  return `voxbridge-${randomUUID().slice(0, 8)}`;
}

/** Creates an S3 client for checks that bypass the store. */
function testClient(): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: s3rver.endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
  });
}

runRecordingContract('s3', async () => {
  const store = new S3RecordingStore(s3rver.options(bucketName(), { presign: true }));
  await store.init();
  return { store, cleanup: () => store.close() };
});

describe('s3 recording store', () => {
  test('init creates missing bucket', async (t) => {
    const bucket = bucketName();
    const client = testClient();
    t.after(() => client.destroy());
    await assert.rejects(client.send(new HeadBucketCommand({ Bucket: bucket })));

    const store = new S3RecordingStore(s3rver.options(bucket));
    t.after(() => store.close());
    await store.init();
    const head = await client.send(new HeadBucketCommand({ Bucket: bucket }));
    assert.equal(head.$metadata.httpStatusCode, 200);

    const second = new S3RecordingStore(s3rver.options(bucket));
    t.after(() => second.close());
    await second.init();
  });

  test('download url is null without presign', async (t) => {
    const store = new S3RecordingStore(s3rver.options(bucketName()));
    t.after(() => store.close());
    await store.init();
    await store.put('ten_1/call_1.wav', Readable.from([Buffer.from('RIFF')]));
    assert.equal(await store.getDownloadUrl('ten_1/call_1.wav'), null);
  });

  test('presigned url carries ttl and type', async (t) => {
    const store = new S3RecordingStore(
      s3rver.options(bucketName(), { presign: true, presignTtlSeconds: 120 }),
    );
    t.after(() => store.close());
    await store.init();
    await store.put('ten_1/call_1.wav', Readable.from([Buffer.from('RIFF')]));
    const url = new URL((await store.getDownloadUrl('ten_1/call_1.wav')) ?? '');
    assert.equal(url.searchParams.get('X-Amz-Expires'), '120');
    assert.notEqual(url.searchParams.get('X-Amz-Signature'), null);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'audio/wav');
    assert.equal(response.headers.get('content-disposition'), 'attachment; filename="call_1.wav"');
    await response.arrayBuffer();
  });

  test('failed multipart upload stores nothing', async (t) => {
    const store = new S3RecordingStore(s3rver.options(bucketName()));
    t.after(() => store.close());
    await store.init();
    // Two full 5 MiB parts go out before the source fails, so a multipart upload is open.
    const part = Buffer.alloc(1024 * 1024, 7);
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent < 11) {
          sent++;
          this.push(part);
          return;
        }
        this.destroy(new Error('client went away'));
      },
    });
    await assert.rejects(store.put('ten_1/call_1.wav', source), /client went away/);
    assert.equal(await store.open('ten_1/call_1.wav'), null);
  });

  test('small part size is rejected', () => {
    assert.throws(
      () => new S3RecordingStore(s3rver.options(bucketName(), { partSizeBytes: 1024 })),
      /partSizeBytes must be at least 5242880/,
    );
  });
});

describe('voxbridge with s3 recordings', () => {
  test('recordingUrl is presigned and route streams', async (t) => {
    const bucket = bucketName();
    const bridge = await startTestBridge({ s3: s3rver.options(bucket, { presign: true }) });
    t.after(() => bridge.close());

    const { campaignId } = await createCampaign(bridge, 'phone\n+919800000001\n');
    await bridge.api('POST', `/v1/campaigns/${campaignId}/start`);
    const claim = await bridge.internal('POST', '/internal/dialler/claim', { limit: 1 });
    const { attempts } = (await claim.json()) as { attempts: Array<{ callId: string }> };
    const callId = attempts[0]?.callId ?? '';

    const wav = makeWav(2000);
    const upload = await bridge.internal('PUT', `/internal/calls/${callId}/recording`, wav, {
      'content-type': 'audio/wav',
    });
    assert.equal(upload.status, 200);

    const detail = (await (await bridge.api('GET', `/v1/calls/${callId}`)).json()) as {
      recordingUrl: string;
    };
    assert.ok(detail.recordingUrl.startsWith(`${s3rver.endpoint}/${bucket}/`), detail.recordingUrl);
    const direct = await fetch(detail.recordingUrl);
    assert.equal(direct.status, 200);
    assert.deepEqual(Buffer.from(await direct.arrayBuffer()), wav);

    const streamed = await bridge.api('GET', `/v1/calls/${callId}/recording`);
    assert.equal(streamed.status, 200);
    assert.equal(streamed.headers.get('content-length'), String(wav.length));
    assert.deepEqual(Buffer.from(await streamed.arrayBuffer()), wav);
  });

  test('oversized upload leaves no object', async (t) => {
    const bucket = bucketName();
    const maxRecordingBytes = 64 * 1024;
    const options = s3rver.options(bucket, { presign: true });
    const bridge = await startTestBridge({ s3: options, maxRecordingBytes });
    t.after(() => bridge.close());
    const { campaignId } = await createCampaign(bridge, 'phone\n+919800000002\n');
    await bridge.api('POST', `/v1/campaigns/${campaignId}/start`);
    const claim = await bridge.internal('POST', '/internal/dialler/claim', { limit: 1 });
    const { attempts } = (await claim.json()) as { attempts: Array<{ callId: string }> };
    const callId = attempts[0]?.callId ?? '';

    const body = makeWav(maxRecordingBytes);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < body.length; offset += 8192) {
          controller.enqueue(body.subarray(offset, offset + 8192));
        }
        controller.close();
      },
    });
    const response = await fetch(`${bridge.url}/internal/calls/${callId}/recording`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${INTERNAL_TOKEN}`, 'content-type': 'audio/wav' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(response.status, 413);
    await response.arrayBuffer();

    const detail = (await (await bridge.api('GET', `/v1/calls/${callId}`)).json()) as {
      recording: unknown;
    };
    assert.equal(detail.recording, null);
    const client = testClient();
    t.after(() => client.destroy());
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(listed.KeyCount, 0);
  });
});

describe('s3 environment', () => {
  const BASE = { BRIDGE_INTERNAL_TOKEN: 'internal-token-for-tests' };

  test('fs recordings by default', () => {
    assert.equal(loadEnv(BASE).s3, undefined);
  });

  test('s3 settings are parsed', () => {
    const env = loadEnv({
      ...BASE,
      BRIDGE_RECORDINGS: 's3',
      S3_ENDPOINT: 'http://minio:9000',
      S3_REGION: 'eu-west-1',
      S3_BUCKET: 'recordings',
      S3_ACCESS_KEY_ID: 'minio',
      S3_SECRET_ACCESS_KEY: 'minio-secret',
      S3_FORCE_PATH_STYLE: 'true',
      S3_PRESIGN: '1',
      S3_PRESIGN_TTL_SECONDS: '60',
    });
    assert.deepEqual(env.s3, {
      bucket: 'recordings',
      region: 'eu-west-1',
      endpoint: 'http://minio:9000',
      forcePathStyle: true,
      credentials: { accessKeyId: 'minio', secretAccessKey: 'minio-secret' },
      presign: true,
      presignTtlSeconds: 60,
    });
  });

  test('s3 settings are validated', () => {
    assert.throws(() => loadEnv({ ...BASE, BRIDGE_RECORDINGS: 's3' }), /S3_BUCKET: is required/);
    assert.throws(
      () => loadEnv({ ...BASE, BRIDGE_RECORDINGS: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'k' }),
      /must be set together/,
    );
    assert.throws(() => loadEnv({ ...BASE, S3_PRESIGN: 'yes' }), /S3_PRESIGN: must be true/);
    assert.throws(() => loadEnv({ ...BASE, S3_PRESIGN_TTL_SECONDS: '604801' }), /S3_PRESIGN_TTL/);
    assert.throws(() => loadEnv({ ...BASE, S3_ENDPOINT: 'minio' }), /S3_ENDPOINT/);
  });
});
