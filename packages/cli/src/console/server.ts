import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { COOKIE, csrfToken, presentedToken, sameSecret } from './auth.js';
import { performAction } from './actions.js';
import { ActivitySampler } from './activity.js';
import { page } from './html.js';
import { routeGet, type View } from './routes.js';
import type { ConsoleOptions } from './types.js';

export type { ConsoleOptions } from './types.js';

/** A running console. */
export interface RunningConsole {
  /** `http://host:port/?token=...`: the address to open, printed once. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the console's own forms.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
};

/**
 * Starts the operator console: an HTTP server on `host:port` (127.0.0.1 by default) serving server-rendered
 * pages and their JSON twins under /api. Every request needs the access token (401 otherwise); every write
 * needs `allowWrites` (403 otherwise), the CSRF token of the session and an explicit confirmation, and is
 * recorded in public.operator_actions. Resolves once the server listens.
 */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const sampler = new ActivitySampler(() => options.lib.snapshotTenantStats({ db: options.db }), options.sampleIntervalMs);
  const server = createServer((request, response) => {
    handle(request, response, options, sampler).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'Internal error');
      else response.end();
      void error;
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await listen(server, options.host, options.port);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  sampler.start();
  const hostPart = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${hostPart}:${port}/?token=${encodeURIComponent(options.token)}`,
    port,
    close: () => {
      sampler.stop();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function handle(request: IncomingMessage, response: ServerResponse, options: ConsoleOptions, sampler: ActivitySampler) {
  const url = new URL(request.url ?? '/', 'http://console.invalid');
  const token = presentedToken(request, url);
  if (!sameSecret(token, options.token)) {
    send(
      response,
      401,
      'text/plain; charset=utf-8',
      'Unauthorized: open the address `cgk console` printed (it carries the token).',
    );
    return;
  }
  if (url.searchParams.has('token')) {
    // The token leaves the address bar (and the history) for an HttpOnly cookie scoped to this console.
    url.searchParams.delete('token');
    response.writeHead(303, {
      ...SECURITY_HEADERS,
      location: `${url.pathname}${url.search}`,
      'set-cookie': `${COOKIE}=${encodeURIComponent(options.token)}; HttpOnly; SameSite=Strict; Path=/`,
    });
    response.end();
    return;
  }
  if (request.method === 'POST') {
    await handlePost(request, response, url, options);
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'text/plain; charset=utf-8', 'Method not allowed');
    return;
  }
  const api = url.pathname === '/api' || url.pathname.startsWith('/api/');
  const path = api ? url.pathname.slice('/api'.length) || '/' : url.pathname;
  const view = await routeGet(path, url.searchParams, viewContext(options, sampler));
  respondView(response, view, api, path, options.target);
}

function viewContext(options: ConsoleOptions, sampler: ActivitySampler) {
  return {
    db: options.db,
    lib: options.lib,
    sampler,
    page: { allowWrites: options.allowWrites, csrf: csrfToken(options.token) },
  };
}

function respondView(response: ServerResponse, view: View, api: boolean, path: string, target: string): void {
  if (api) {
    send(response, view.status, 'application/json; charset=utf-8', JSON.stringify(view.data));
    return;
  }
  send(response, view.status, 'text/html; charset=utf-8', page(view.title, path, target, view.body));
}

async function handlePost(request: IncomingMessage, response: ServerResponse, url: URL, options: ConsoleOptions) {
  if (!options.allowWrites) {
    send(response, 403, 'text/plain; charset=utf-8', 'Forbidden: the console is read-only (start it with --allow-writes).');
    request.resume();
    return;
  }
  const form = new URLSearchParams(await readBody(request));
  const outcome = await performAction(url.pathname, form, request, options);
  if ('location' in outcome) {
    response.writeHead(303, { ...SECURITY_HEADERS, location: outcome.location });
    response.end();
    return;
  }
  send(response, outcome.status, 'text/html; charset=utf-8', page(outcome.title, '/', options.target, outcome.body));
}

/** The request body as text, refusing more than 64 KiB (a form of a few fields is far less). */
function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 65_536) {
        reject(new Error('request body too large'));
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}
