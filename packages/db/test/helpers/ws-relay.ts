import { createServer, type IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * A local stand-in for Neon's WebSocket proxy: accepts WebSocket connections on 127.0.0.1 at
 * `/v2?address=host:port`, opens a TCP connection to that address and pipes binary frames both ways, so
 * the @vercel/postgres and @neondatabase/serverless drivers can be tested against the local PostgreSQL
 * without the internet. Point the drivers at it with `wsProxy: relay.address` (or
 * `CGK_NEON_WS_PROXY=127.0.0.1:<port>`).
 *
 * Only loopback targets are relayed (127.0.0.1, localhost, [::1]); anything else is refused with 403 before
 * the WebSocket is accepted, so the relay cannot be used to reach another host.
 */
export interface WsRelay {
  port: number;
  /** `127.0.0.1:<port>`: what the drivers take as `wsProxy`. */
  address: string;
  /** WebSocket connections accepted so far (a test can check that the driver really went through here). */
  readonly accepted: number;
  /** Connections currently open. */
  readonly open: number;
  /**
   * Round trips seen so far, over all connections: each time a client sends after the server has answered
   * (or first). Messages a client sends before any answer count once, however many WebSocket frames they
   * take, so this counts the waits a driver pays whether or not it coalesces its writes.
   */
  readonly roundTrips: number;
  /** Closes every relayed connection and the listening socket. Idempotent. */
  stop(): Promise<void>;
}

/** Keyed by the host as `loopbackTarget` matches it: IPv6 only in brackets (a bare `::1:5432` is ambiguous). */
const LOOPBACK: Record<string, string> = { '127.0.0.1': '127.0.0.1', localhost: '127.0.0.1', '[::1]': '::1' };

/** Parses `host:port` (host may be `[::1]`) and returns a loopback target, or undefined. */
function loopbackTarget(address: string | null): { host: string; port: number } | undefined {
  const match = /^(\[::1\]|[^:]+):(\d{1,5})$/.exec(address ?? '');
  const host = match && LOOPBACK[match[1]!];
  const port = Number(match?.[2]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

function refuse(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export async function startWsRelay(): Promise<WsRelay> {
  const http = createServer((_req, res) => {
    res.writeHead(426, { Connection: 'close' }).end();
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const pairs = new Set<{ ws: WebSocket; tcp: net.Socket }>();
  let accepted = 0;
  let roundTrips = 0;

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://relay');
    if (url.pathname !== '/v2') return refuse(socket, '404 Not Found');
    const target = loopbackTarget(url.searchParams.get('address'));
    if (!target) return refuse(socket, '403 Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => {
      accepted += 1;
      const tcp = net.connect(target);
      tcp.setNoDelay(true);
      const pair = { ws, tcp };
      let clientTurn = false;
      pairs.add(pair);
      // Either side closing or failing closes the other: the client sees the server go, and vice versa.
      const close = () => {
        pairs.delete(pair);
        tcp.destroy();
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
      };
      // net.Socket buffers writes made while it is still connecting, so nothing sent early is lost.
      ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
        if (!clientTurn) roundTrips += 1;
        clientTurn = true;
        tcp.write(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
      });
      tcp.on('data', (chunk) => {
        clientTurn = false;
        if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
      });
      ws.on('close', close);
      ws.on('error', close);
      tcp.on('close', close);
      tcp.on('error', close);
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('relay: no port');
  const { port } = address;

  let stopped: Promise<void> | undefined;
  return {
    port,
    address: `127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    get roundTrips() {
      return roundTrips;
    },
    stop() {
      stopped ??= (async () => {
        for (const { ws, tcp } of pairs) {
          tcp.destroy();
          ws.terminate();
        }
        pairs.clear();
        wss.close();
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      })();
      return stopped;
    },
  };
}

/**
 * Opens `db`'s driver (a 'vercel' or 'neon' Database) with CGK_NEON_WS_PROXY pointing at `relay`, then puts
 * the environment back: the driver reads the variable once, when it opens, and nothing else sees it.
 */
export async function openThroughRelay<D extends { driver(): Promise<unknown> }>(
  db: D,
  relay: Pick<WsRelay, 'address'>,
): Promise<Awaited<ReturnType<D['driver']>>> {
  const saved = process.env.CGK_NEON_WS_PROXY;
  process.env.CGK_NEON_WS_PROXY = relay.address;
  try {
    return (await db.driver()) as Awaited<ReturnType<D['driver']>>;
  } finally {
    if (saved === undefined) delete process.env.CGK_NEON_WS_PROXY;
    else process.env.CGK_NEON_WS_PROXY = saved;
  }
}

/** `url` with its host replaced by `localhost`: @vercel/postgres refuses a direct URL on any other host. */
export function onLocalhost(url: string): string {
  const parsed = new URL(url);
  parsed.hostname = 'localhost';
  return parsed.toString();
}
