import net from 'node:net';

/**
 * A TCP proxy in front of the local PostgreSQL that reads the wire protocol as it passes, for tests that must
 * see what a driver really sends over node-postgres:
 * - `roundTrips` counts the waits a client pays: each time it sends after the server has answered (or first),
 *   however many messages and TCP writes it sends before the next answer (as `ws-relay.ts` counts for Neon);
 * - `readyForQuery` counts the server's ReadyForQuery messages (one per Sync or simple Query answered);
 * - `failNext(pattern)` answers the next simple Query whose text matches with an ErrorResponse and
 *   ReadyForQuery itself, without the server ever seeing it: the connection stays healthy and the server's
 *   transaction stays open, the one case where a failed ROLLBACK leaves a reusable-looking connection behind.
 * Loopback only: it forwards to the one target it was started for.
 */
export interface PgProxy {
  port: number;
  /** `targetUrl` with its host and port replaced by the proxy's. */
  url: string;
  readonly roundTrips: number;
  readonly readyForQuery: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Simple Query texts intercepted by `failNext` so far. */
  readonly intercepted: string[];
  failNext(pattern: RegExp): void;
  stop(): Promise<void>;
}

/** Splits a byte stream into protocol messages; `typed` is false only for the client's first (startup) message. */
class MessageReader {
  #buffer = Buffer.alloc(0);
  constructor(private typed: boolean) {}

  push(chunk: Buffer): Array<{ type: string; body: Buffer; raw: Buffer }> {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const messages: Array<{ type: string; body: Buffer; raw: Buffer }> = [];
    for (;;) {
      const header = this.typed ? 5 : 4;
      if (this.#buffer.length < header) break;
      const length = this.typed ? this.#buffer.readInt32BE(1) + 1 : this.#buffer.readInt32BE(0);
      if (this.#buffer.length < length) break;
      const raw = this.#buffer.subarray(0, length);
      messages.push({ type: this.typed ? String.fromCharCode(raw[0]!) : '', body: raw.subarray(header), raw });
      this.#buffer = this.#buffer.subarray(length);
      this.typed = true;
    }
    return messages;
  }
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** An ErrorResponse (severity ERROR, SQLSTATE 08006) followed by ReadyForQuery in state `status`. */
function injectedError(status: string): Buffer {
  const fields = Buffer.from('SERROR\0VERROR\0C08006\0Mthe test proxy failed this statement\0\0', 'latin1');
  return Buffer.concat([message('E', fields), message('Z', Buffer.from(status, 'latin1'))]);
}

export async function startPgProxy(targetUrl: string): Promise<PgProxy> {
  const target = new URL(targetUrl);
  const host = target.hostname || '127.0.0.1';
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) throw new Error(`pg-proxy: loopback targets only, not ${host}`);
  const targetPort = Number(target.port || 5432);
  let roundTrips = 0;
  let readyForQuery = 0;
  let accepted = 0;
  const intercepted: string[] = [];
  const failing: RegExp[] = [];
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    accepted += 1;
    const upstream = net.connect({ host: host === '[::1]' ? '::1' : host, port: targetPort });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    const fromClient = new MessageReader(false);
    const fromServer = new MessageReader(true);
    let clientTurn = false;
    // Answers the server still owes (a Query or a Sync each), and injected answers waiting their turn.
    let owed = 0;
    let waiting = 0;
    let status = 'I';
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (chunk) => {
      if (!clientTurn) roundTrips += 1;
      clientTurn = true;
      for (const m of fromClient.push(chunk)) {
        const text = m.type === 'Q' ? m.body.toString('utf8').replace(/\0$/, '') : '';
        const rule = m.type === 'Q' ? failing.findIndex((pattern) => pattern.test(text)) : -1;
        if (rule >= 0) {
          failing.splice(rule, 1);
          intercepted.push(text);
          // The answer must come after the answers the server still owes for earlier messages.
          if (owed === 0 && waiting === 0) client.write(injectedError(status === 'I' ? 'I' : 'E'));
          else waiting += 1;
          continue;
        }
        if (m.type === 'Q' || m.type === 'S') owed += 1;
        upstream.write(m.raw);
      }
    });
    upstream.on('data', (chunk) => {
      clientTurn = false;
      for (const m of fromServer.push(chunk)) {
        client.write(m.raw);
        if (m.type !== 'Z') continue;
        readyForQuery += 1;
        status = String.fromCharCode(m.body[0]!);
        owed = Math.max(0, owed - 1);
        for (; owed === 0 && waiting > 0; waiting--) client.write(injectedError(status === 'I' ? 'I' : 'E'));
      }
    });
    for (const socket of [client, upstream]) {
      socket.on('close', close);
      socket.on('error', close);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  let stopped: Promise<void> | undefined;
  return {
    port,
    url: url.toString(),
    get roundTrips() {
      return roundTrips;
    },
    get readyForQuery() {
      return readyForQuery;
    },
    get accepted() {
      return accepted;
    },
    intercepted,
    failNext(pattern) {
      failing.push(pattern);
    },
    stop() {
      stopped ??= (async () => {
        for (const socket of sockets) socket.destroy();
        sockets.clear();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return stopped;
    },
  };
}
