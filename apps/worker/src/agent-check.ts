/**
 * The HAProxy agent-check responder: a TCP port where each connection receives one line
 * with the worker's admin state, and is then closed.
 *
 * Protocol (HAProxy 2.6 configuration manual, "agent-check"): HAProxy connects, may send
 * an `agent-send` string, and reads one line ending at the first `\r` or `\n`. The line
 * contains words separated by spaces: `ready` lifts DRAIN and MAINT, `drain` takes the server
 * out of load balancing but keeps connections routed to it by `use-server`, `maint` takes
 * it out entirely, and `up` marks it operational when health checks agree. A percentage
 * such as `100%` sets the weight relative to the configured one. The responder ignores
 * anything HAProxy sends.
 *
 * @example
 * const agent = new AgentCheckServer({ host: '127.0.0.1', port: 0, readState, log });
 * const { port } = await agent.start();
 * await agent.stop();
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '@voxfleet/logger';
import type { WorkerState } from './worker.js';

export type AgentState = 'ready' | 'drain' | 'maint';

export interface WorkerSnapshot {
  state: WorkerState;
  /** True while the worker's registry entry is live. */
  registered: boolean;
}

export interface AgentCheckServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  readState: () => WorkerSnapshot;
  log: Logger;
}

/**
 * Maps the worker's state to the agent word: `ready` only when idle and registered (the
 * same rule as `GET /ready`), `maint` once stopped, and `drain` otherwise, so a busy or
 * draining worker receives only the connections pinned to it.
 */
export function agentStateOf(snapshot: WorkerSnapshot): AgentState {
  if (snapshot.state === 'stopped') return 'maint';
  if (snapshot.state === 'idle' && snapshot.registered) return 'ready';
  return 'drain';
}

/** Formats the reply line. `up` and `100%` undo an earlier `down` or weight set elsewhere. */
export function formatAgentReply(state: AgentState): string {
  if (state === 'ready') return 'ready up 100%\n';
  return `${state}\n`;
}

export class AgentCheckServer {
  readonly #options: AgentCheckServerOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #started: Promise<{ port: number }> | null = null;
  #stopping: Promise<void> | null = null;
  #port: number | null = null;

  constructor(options: AgentCheckServerOptions) {
    this.#options = options;
    this.#server = createServer((socket) => this.#reply(socket));
  }

  /** The bound port once started, else null. */
  get port(): number | null {
    return this.#port;
  }

  /** Listens on the configured address; idempotent. */
  start(): Promise<{ port: number }> {
    this.#started ??= new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        const address = this.#server.address();
        const port = typeof address === 'object' && address !== null ? address.port : 0;
        this.#port = port;
        this.#options.log.info({ host: this.#options.host, port }, 'agent check listening');
        resolve({ port });
      });
    });
    return this.#started;
  }

  /** Stops listening and closes open connections; idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      for (const socket of this.#sockets) socket.destroy();
      this.#server.close(() => resolve());
    });
    return this.#stopping;
  }

  #reply(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', (err) => this.#options.log.debug({ err }, 'agent check socket error'));
    // HAProxy's `agent-send` text, if any, is read and discarded.
    socket.on('data', () => undefined);
    let state: AgentState;
    try {
      state = agentStateOf(this.#options.readState());
    } catch (err) {
      this.#options.log.error({ err }, 'agent check state read failed');
      state = 'drain';
    }
    socket.end(formatAgentReply(state));
  }
}
