/**
 * A stand-in worker for the ingress benchmark: `GET /ready` returns 200, a WebSocket on
 * `/ws/{botId}` echoes every message, and an agent-check port sends `ready up 100%`, or
 * `drain` while a socket is open once `drainWhenBusy` is set, as the real worker does.
 * The upgrade and relay runs leave it unset: they open sockets back to back, faster than
 * the agent check could bring a backend back. Echoing keeps the worker's own processing out
 * of the relay timing.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { WebSocketServer } from 'ws';

export class EchoBackend {
  readonly #http: Server;
  readonly #agent: TcpServer;
  readonly #wss = new WebSocketServer({ noServer: true });
  #open = 0;
  drainWhenBusy = false;

  constructor(
    readonly port: number,
    readonly agentPort: number,
  ) {
    this.#http = createHttpServer((req, res) => {
      res.writeHead(req.url === '/ready' ? 200 : 404, { 'content-type': 'application/json' });
      res.end('{}');
    });
    this.#http.on('upgrade', (req, socket, head) => {
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        this.#open++;
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
        ws.on('close', () => this.#open--);
      });
    });
    this.#agent = createTcpServer((socket) => {
      socket.on('error', () => undefined);
      socket.end(this.drainWhenBusy && this.#open > 0 ? 'drain\n' : 'ready up 100%\n');
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#http.listen(this.port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => this.#agent.listen(this.agentPort, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    await new Promise<void>((resolve) => this.#agent.close(() => resolve()));
  }
}
