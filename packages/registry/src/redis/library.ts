/**
 * Loading of the function library on Redis Cluster primaries that the client connects to
 * after it opened. Functions are stored per node, and `RedisRegistry.open` loads the
 * library only on the primaries that the client knows at that time.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '@voxfleet/logger';
import { LIBRARY_SOURCE } from './scripts.js';

/**
 * Errors of FUNCTION LOAD that need no log line: the library is already loaded, or the
 * client closed its connection to the node.
 */
const EXPECTED_LOAD_FAILURES = ['already exists', 'Connection is closed'];

/**
 * Sends FUNCTION LOAD on every new connection of the Cluster client to a primary, before
 * any other command on it, so the first function call there finds the library. This
 * covers a node that joined the cluster later and receives a slot by resharding. The
 * client first connects to such a node when an ASK or MOVED reply names it. It also drops
 * and reconnects a node while the node owns no slot yet, because each slot refresh removes
 * nodes that `CLUSTER SLOTS` does not list. Loading only after a call failed with "Function
 * not found" could therefore miss the node, and the call would fail.
 */
export function loadLibraryOnNewPrimaries(cluster: Cluster, logger: Logger | undefined): void {
  cluster.on('+node', (node: Redis) => {
    // A replica receives the library from its primary and rejects FUNCTION LOAD.
    if (node.options.readOnly === true) return;
    node.function('LOAD', LIBRARY_SOURCE).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (EXPECTED_LOAD_FAILURES.some((expected) => message.includes(expected))) return;
      logger?.warn(
        { err, node: `${node.options.host ?? ''}:${node.options.port ?? ''}` },
        'registry function library load failed',
      );
    });
  });
}
