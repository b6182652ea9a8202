import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';

/**
 * The export file: one gzip stream holding a magic line, then frames of `[type: 1 byte][length: uint32 BE]
 * [payload]`: `H` the header (JSON), per table `T` (its name, JSON) and `D` frames (its rows as PostgreSQL
 * COPY text, up to DATA_FRAME_BYTES each), then `M` the manifest (JSON: per table its rows, bytes and the
 * SHA-256 of its COPY text; the header's SHA-256) and `Z`, the SHA-256 of the manifest, last. Every byte
 * is hashed once (tables by their own hash, which the manifest lists, and the manifest by `Z`), so a file
 * cut short, edited or re-assembled is found by reading it once, before anything is loaded.
 */

export const MAGIC = Buffer.from('CGK-TENANT-EXPORT 1\n');
export const FORMAT = 'cgk-tenant-export';
export const FORMAT_VERSION = 1;
/** Rows are written in frames of about this size (COPY sends one message per row: far too small to frame). */
export const DATA_FRAME_BYTES = 256 * 1024;
/** No frame is larger than this: a length beyond it means a damaged file, not a large allocation. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export type FrameType = 'H' | 'T' | 'D' | 'M' | 'Z';

/** One migration applied to the exported schema, as its `schema_migrations` row says. */
export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

/** A table of the export: a tenant table (`orders`) or a platform table's rows of this organization (`public.users`). */
export interface ExportTable {
  name: string;
  kind: 'tenant' | 'platform';
  columns: string[];
}

/** What the file says before its rows: enough to check a target database and build the schema. */
export interface ExportHeader {
  format: typeof FORMAT;
  version: number;
  slug: string;
  schema: string;
  exportedAt: string;
  serverVersion: string;
  /** The tenant's `public.organizations` row as JSON, secrets as stored (ciphertext, never decrypted). */
  organization: Record<string, unknown>;
  migrations: { tenant: AppliedMigration[]; public: AppliedMigration[] };
  tables: ExportTable[];
  sequences: Array<{ name: string; lastValue: string; isCalled: boolean }>;
}

/** The content of one table in the file. */
export interface TableManifest {
  name: string;
  kind: 'tenant' | 'platform';
  rows: number;
  bytes: number;
  /** SHA-256 of the table's COPY text, in the order the file holds its rows. */
  sha256: string;
}

/** The file's last word on itself: what every table holds, and the header's checksum. */
export interface ExportManifest {
  format: typeof FORMAT;
  version: number;
  slug: string;
  exportedAt: string;
  header: { sha256: string; bytes: number };
  tables: TableManifest[];
  totalRows: number;
}

/** Frames written to a (compressing) stream, waiting for it to drain: memory stays flat whatever the size. */
export class FrameWriter {
  constructor(readonly out: Writable) {}

  async start(): Promise<void> {
    await this.write(MAGIC);
  }

  async frame(type: FrameType, payload: Buffer): Promise<void> {
    const head = Buffer.allocUnsafe(5);
    head.write(type, 0, 'latin1');
    head.writeUInt32BE(payload.length, 1);
    await this.write(head);
    await this.write(payload);
  }

  async json(type: FrameType, value: unknown): Promise<Buffer> {
    const payload = Buffer.from(JSON.stringify(value));
    await this.frame(type, payload);
    return payload;
  }

  async write(chunk: Buffer): Promise<void> {
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }
}

/** Counts COPY rows (one per newline: COPY text escapes newlines inside values) and hashes the bytes. */
export class TableDigest {
  readonly #hash: Hash = createHash('sha256');
  rows = 0;
  bytes = 0;

  update(chunk: Buffer): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    let at = chunk.indexOf(10);
    while (at !== -1) {
      this.rows++;
      at = chunk.indexOf(10, at + 1);
    }
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

/** A frame read back. */
export interface Frame {
  type: FrameType;
  payload: Buffer;
}

/** Thrown by `readFrames` for a stream that is not a complete sequence of frames. */
export class FrameError extends Error {
  constructor(
    readonly problem: 'not-an-export' | 'truncated' | 'corrupted',
    message: string,
  ) {
    super(message);
  }
}

/** The frames of a decompressed export stream, in order; the magic line is checked first. */
export async function* readFrames(input: Readable): AsyncGenerator<Frame> {
  const buffer = new ChunkBuffer();
  let magicSeen = false;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    buffer.push(chunk);
    if (!magicSeen) {
      if (buffer.length < MAGIC.length) continue;
      if (!buffer.take(MAGIC.length).equals(MAGIC)) throw new FrameError('not-an-export', 'it does not start as a tenant export');
      magicSeen = true;
    }
    while (buffer.length >= 5) {
      const head = buffer.peek(5);
      const type = String.fromCharCode(head[0]!) as FrameType;
      const length = head.readUInt32BE(1);
      if (!'HTDMZ'.includes(type) || length > MAX_FRAME_BYTES) {
        throw new FrameError('corrupted', `a frame of unknown type or size (${JSON.stringify(type)}, ${length} bytes)`);
      }
      if (buffer.length < 5 + length) break;
      buffer.take(5);
      yield { type, payload: buffer.take(length) };
    }
  }
  if (!magicSeen) throw new FrameError('not-an-export', 'it is too short to be a tenant export');
  if (buffer.length > 0) throw new FrameError('truncated', 'it ends in the middle of a frame');
}

/** Buffers without copying until a frame is taken. */
class ChunkBuffer {
  #chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.length += chunk.length;
  }

  peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    return first.length >= n ? first.subarray(0, n) : Buffer.concat(this.#chunks).subarray(0, n);
  }

  take(n: number): Buffer {
    const first = this.#chunks[0];
    let out: Buffer;
    if (first && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.#chunks);
      out = all.subarray(0, n);
      this.#chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.length -= n;
    return out;
  }
}

/** SHA-256 in hex. */
export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
