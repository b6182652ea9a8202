import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { ExportFileError } from './errors.js';
import {
  FORMAT,
  FORMAT_VERSION,
  FrameError,
  readFrames,
  sha256,
  TableDigest,
  type ExportHeader,
  type ExportManifest,
  type ExportTable,
  type Frame,
  type TableManifest,
} from './format.js';

/** What reading an export calls as the rows pass (the import's loader); reading alone verifies. */
export interface ExportSink {
  startTable(table: ExportTable): Promise<void>;
  data(chunk: Buffer): Promise<void>;
  endTable(table: ExportTable, content: TableManifest): Promise<void>;
}

/** A verified export: its header and manifest. */
export interface VerifiedExport {
  header: ExportHeader;
  manifest: ExportManifest;
  /** SHA-256 of the header frame: a second read of the same file must find the same. */
  headerSha256: string;
}

/**
 * Reads an export file through, checking everything: the gzip stream, the frames, the header against the
 * manifest, every table's row count, size and SHA-256 against the manifest, and the manifest against the
 * final checksum. With `sink`, hands each table's rows to it as they pass (after a table's last byte its
 * checks are made BEFORE `endTable` is called). Throws `ExportFileError` on the first mismatch.
 */
export async function readExport(file: string, sink?: ExportSink): Promise<VerifiedExport> {
  const state = new ReadState(file, sink);
  const gunzip = createGunzip({ chunkSize: 64 * 1024 });
  const source = createReadStream(file, { highWaterMark: 256 * 1024 });
  source.on('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  try {
    for await (const frame of readFrames(gunzip)) await state.take(frame);
  } catch (error) {
    source.destroy();
    gunzip.destroy();
    throw asFileError(file, error);
  }
  return state.finish();
}

function asFileError(file: string, error: unknown): unknown {
  if (error instanceof ExportFileError) return error;
  if (error instanceof FrameError) return new ExportFileError(file, error.problem, error.message);
  const code = (error as { code?: unknown }).code;
  if (code === 'Z_BUF_ERROR') return new ExportFileError(file, 'truncated', 'the compressed stream ends early (cut short)');
  if (code === 'Z_DATA_ERROR')
    return new ExportFileError(file, 'corrupted', 'the compressed stream is damaged', { cause: error });
  if (code === 'ENOENT') return new ExportFileError(file, 'not-an-export', 'no such file', { hint: 'Check the path.' });
  return error;
}

class ReadState {
  header: ExportHeader | undefined;
  headerSha256 = '';
  manifest: ExportManifest | undefined;
  manifestBytes: Buffer | undefined;
  closed = false;
  tables: TableManifest[] = [];
  current: { table: ExportTable; digest: TableDigest } | undefined;

  constructor(
    readonly file: string,
    readonly sink: ExportSink | undefined,
  ) {}

  fail(problem: 'checksum' | 'manifest' | 'corrupted', detail: string): never {
    throw new ExportFileError(this.file, problem, detail);
  }

  async take(frame: Frame): Promise<void> {
    if (this.closed) this.fail('corrupted', 'it has data after its final checksum');
    if (!this.header) {
      if (frame.type !== 'H') this.fail('corrupted', 'it does not begin with a header');
      this.header = parseJson(frame.payload, this.file) as ExportHeader;
      if (this.header.format !== FORMAT || this.header.version !== FORMAT_VERSION) {
        this.fail(
          'corrupted',
          `format ${String(this.header.format)} ${String(this.header.version)} is not one this version reads`,
        );
      }
      this.headerSha256 = sha256(frame.payload);
      return;
    }
    if (frame.type === 'T') return this.startTable(frame.payload);
    if (frame.type === 'D') {
      if (!this.current || this.manifest) this.fail('corrupted', 'it has rows outside a table');
      this.current.digest.update(frame.payload);
      await this.sink?.data(frame.payload);
      return;
    }
    if (frame.type === 'M') {
      await this.endTable();
      if (this.manifest) this.fail('corrupted', 'it has two manifests');
      this.manifestBytes = frame.payload;
      this.manifest = parseJson(frame.payload, this.file) as ExportManifest;
      return;
    }
    if (frame.type === 'Z') {
      if (!this.manifestBytes) this.fail('corrupted', 'its final checksum comes before its manifest');
      if (frame.payload.toString() !== sha256(this.manifestBytes))
        this.fail('checksum', 'the manifest does not match its checksum');
      this.closed = true;
      return;
    }
    this.fail('corrupted', 'it has a second header');
  }

  async startTable(payload: Buffer): Promise<void> {
    await this.endTable();
    const name = (parseJson(payload, this.file) as { name?: unknown }).name;
    const table = this.header?.tables[this.tables.length];
    if (this.manifest || !table || table.name !== name)
      this.fail('corrupted', `table ${String(name)} is not the one the header lists next`);
    this.current = { table, digest: new TableDigest() };
    await this.sink?.startTable(table);
  }

  /** Checks the table just read against the manifest once it is known (finish), then hands it to the sink. */
  async endTable(): Promise<void> {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    const { table, digest } = current;
    const content: TableManifest = {
      name: table.name,
      kind: table.kind,
      rows: digest.rows,
      bytes: digest.bytes,
      sha256: digest.digest(),
    };
    this.tables.push(content);
    await this.sink?.endTable(table, content);
  }

  finish(): VerifiedExport {
    const { header, manifest } = this;
    if (!header || !manifest || !this.closed) {
      throw new ExportFileError(this.file, 'truncated', 'it ends before its manifest and final checksum (cut short)');
    }
    if (manifest.header?.sha256 !== this.headerSha256) this.fail('checksum', 'the header does not match the manifest');
    if (manifest.slug !== header.slug || this.tables.length !== header.tables.length) {
      this.fail('manifest', 'the manifest does not describe the tables the file holds');
    }
    const listed = manifest.tables ?? [];
    this.tables.forEach((found, i) => {
      const expected = listed[i];
      if (!expected || expected.name !== found.name) this.fail('manifest', `table ${found.name} is missing from the manifest`);
      if (expected.sha256 !== found.sha256 || expected.bytes !== found.bytes || expected.rows !== found.rows) {
        this.fail(
          'checksum',
          `table ${found.name}: ${found.rows} rows, ${found.bytes} bytes found, the manifest says ${expected.rows} rows, ` +
            `${expected.bytes} bytes (content checksum ${found.sha256 === expected.sha256 ? 'equal' : 'differs'})`,
        );
      }
    });
    if (listed.length !== this.tables.length) this.fail('manifest', 'the manifest lists tables the file does not hold');
    return { header, manifest, headerSha256: this.headerSha256 };
  }
}

function parseJson(payload: Buffer, file: string): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch (error) {
    throw new ExportFileError(file, 'corrupted', 'a header or manifest is not valid JSON', { cause: error });
  }
}
