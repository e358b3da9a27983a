/**
 * voxcore-worker: one process, at most one call. `createWorker` builds a worker for tests
 * and the CLI; `src/main.ts` runs one from the environment.
 *
 * @example
 * const worker = createWorker({ workerId: 'w1', port: 0, bridgeInternalToken, ... });
 * const { url } = await worker.start();
 * await worker.drain();
 * await worker.stop();
 */
export { createWorker, type CreateWorkerOptions, type WorkerHandle } from './create-worker.js';
export { WorkerError, type WorkerErrorCode } from './errors.js';
export type { CallSessionLike, CreatePromptSource, CreateSession } from './call/session.js';
export type { WorkerOptions, WorkerState } from './worker.js';
export { parseInboundFrame } from './protocol/twilio.js';
