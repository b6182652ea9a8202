import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { CgkError, ConfigError } from '@cgk/db';
import { loadLib } from '../src/lib.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Output, duration, errorJson, oneLine, plural, table } from '../src/output.js';

// What the CLI prints, without a subprocess or a server: the text and --json contracts of output.ts.

class Captured extends Writable {
  text = '';
  constructor(
    readonly isTTY?: boolean,
    readonly columns?: number,
  ) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

function output(json: boolean, verbose = false, tty?: boolean) {
  const stdout = new Captured();
  const stderr = new Captured(tty, 100);
  return { out: new Output(json, verbose, { stdout, stderr }), stdout, stderr };
}

// Output uses @cgk/db (redaction, CgkError) as the CLI does: loaded before any command or error report.
beforeAll(async () => {
  await loadLib();
});

const URL_WITH_PASSWORD = 'postgres://app:pa55word@db.example.com:5432/shop';

describe('Output in text mode', () => {
  it('prints results on stdout, redacted, and nothing when there is nothing to say', () => {
    const { out, stdout, stderr } = output(false);
    out.result({ ignored: true }, () => ['first', `second ${URL_WITH_PASSWORD}`]);
    expect(stdout.text).toBe('first\nsecond postgres://app:***@db.example.com:5432/shop\n');
    out.result({}, () => 'one line');
    expect(stdout.text.endsWith('one line\n')).toBe(true);
    const before = stdout.text;
    out.result({}, () => '');
    out.result({}, () => []);
    expect(stdout.text).toBe(before);
    expect(stderr.text).toBe('');
  });

  it('prints notes on stderr with the cgk: prefix, progress raw, and text() lines on stdout', () => {
    const { out, stdout, stderr } = output(false);
    out.note(`connecting to ${URL_WITH_PASSWORD}`);
    out.progress('\r[##--]');
    expect(stderr.text).toBe('cgk: connecting to postgres://app:***@db.example.com:5432/shop\n\r[##--]');
    out.text([]);
    expect(stdout.text).toBe('');
    out.text(['a', `b ${URL_WITH_PASSWORD}`]);
    expect(stdout.text).toBe('a\nb postgres://app:***@db.example.com:5432/shop\n');
  });

  it('prints a CgkError as one line with its code and hint, and returns exit code 1', () => {
    const { out, stdout, stderr } = output(false);
    const code = out.error(new ConfigError(`bad URL ${URL_WITH_PASSWORD}\nsecond line`, 'Fix it'));
    expect(code).toBe(EXIT_FAILURE);
    expect(stderr.text).toBe(
      'error CGK_CONFIG: bad URL postgres://app:***@db.example.com:5432/shop second line (hint: Fix it)\n',
    );
    expect(stdout.text).toBe('');
  });

  it('prints any other error as one line pointing at --verbose, and the stack and causes with --verbose', () => {
    const plain = output(false);
    plain.out.error(new Error('went\nwrong'));
    expect(plain.stderr.text).toBe('error: went wrong (run with --verbose for the stack trace)\n');
    const text = output(false);
    text.out.error('not even an Error');
    expect(text.stderr.text).toBe('error: not even an Error (run with --verbose for the stack trace)\n');

    const verbose = output(false, true);
    const root = new Error(`root cause ${URL_WITH_PASSWORD}`);
    const error = new CgkError('CGK_QUERY', 'outer', { cause: new Error('middle', { cause: root }) });
    verbose.out.error(error);
    const lines = verbose.stderr.text.split('\n');
    expect(lines[0]).toBe('error CGK_QUERY: outer');
    expect(verbose.stderr.text).toMatch(/^\s+at /m);
    expect(verbose.stderr.text).toContain('Caused by: Error: middle');
    expect(verbose.stderr.text).toContain('Caused by: Error: root cause postgres://app:***@');
    expect(verbose.stderr.text).not.toContain('pa55word');
    const other = output(false, true);
    other.out.error(new Error('no hint'));
    expect(other.stderr.text.split('\n')[0]).toBe('error: no hint');
  });

  it('stops following causes after five', () => {
    let error: Error = new Error('cause 0');
    for (let i = 1; i <= 8; i++) error = new Error(`cause ${i}`, { cause: error });
    const { out, stderr } = output(false, true);
    out.error(error);
    expect(stderr.text.match(/Caused by:/g)).toHaveLength(5);
    expect(stderr.text).toContain('Caused by: Error: cause 3');
    expect(stderr.text).not.toContain('cause 2');
    const { out: out2, stderr: stderr2 } = output(false, true);
    out2.error(new Error('top', { cause: 'a string cause' }));
    expect(stderr2.text).toContain('Caused by: a string cause');
  });

  it('prints a usage error as one line on stderr and returns exit code 2', () => {
    const { out, stdout, stderr } = output(false);
    expect(out.usage("error: unknown option '--x'\n")).toBe(EXIT_USAGE);
    expect(stderr.text).toBe("cgk: usage error: unknown option '--x' (see: npx @cgk/cli --help)\n");
    expect(stdout.text).toBe('');
  });

  it('strips commander\'s "error:" prefix only at the start, with or without a blank after it', () => {
    const tight = output(false);
    tight.out.usage('error:missing argument');
    expect(tight.stderr.text).toBe('cgk: usage error: missing argument (see: npx @cgk/cli --help)\n');
    const inner = output(false);
    inner.out.usage("unknown command 'error: x'");
    expect(inner.stderr.text).toBe("cgk: usage error: unknown command 'error: x' (see: npx @cgk/cli --help)\n");
  });

  it('prints the stack of an error without a cause with --verbose, one part per line and no "Caused by"', () => {
    const { out, stderr } = output(false, true);
    const error = new Error('alone');
    out.error(error);
    expect(stderr.text).toContain(error.stack!);
    expect(stderr.text).not.toContain('Caused by');
    const chained = output(false, true);
    chained.out.error(new Error('top', { cause: new Error('below') }));
    expect(chained.stderr.text).toMatch(/\n\s+at [^\n]+\nCaused by: Error: below\n/);
    const stackless = output(false, true);
    const bare = new Error('no stack');
    bare.stack = undefined;
    stackless.out.error(bare);
    expect(stackless.stderr.text).toContain('Error: no stack');
  });

  it('writes to the process streams by default', () => {
    const out = new Output(false, false);
    expect(out.streams.stdout).toBe(process.stdout);
    expect(out.streams.stderr).toBe(process.stderr);
  });

  it('is interactive only when stderr is a terminal', () => {
    expect(output(false, false, true).out.interactive).toBe(true);
    expect(output(false, false, false).out.interactive).toBe(false);
    expect(output(false, false, undefined).out.interactive).toBe(false);
  });
});

describe('Output with --json', () => {
  it('prints one document { ok: true, ...result } on stdout, redacted as a whole, and only once', () => {
    const { out, stdout, stderr } = output(true);
    out.result({ url: URL_WITH_PASSWORD, n: 1 }, () => 'never used');
    out.result({ second: true }, () => 'never used');
    out.text(['text lines are for text mode only']);
    expect(JSON.parse(stdout.text)).toEqual({ ok: true, url: 'postgres://app:***@db.example.com:5432/shop', n: 1 });
    expect(stdout.text).toBe(
      `${JSON.stringify({ ok: true, url: 'postgres://app:***@db.example.com:5432/shop', n: 1 }, null, 2)}\n`,
    );
    expect(stderr.text).toBe('');
  });

  it('prints a failure as { ok: false, ...details, error } on stdout and the error line on stderr', () => {
    const { out, stdout, stderr } = output(true);
    const code = out.error(new ConfigError('nope', 'do this'), { partial: [1, 2] });
    expect(code).toBe(EXIT_FAILURE);
    expect(JSON.parse(stdout.text)).toEqual({
      ok: false,
      partial: [1, 2],
      error: { code: 'CGK_CONFIG', message: 'nope', hint: 'do this' },
    });
    expect(stderr.text).toBe('error CGK_CONFIG: nope (hint: do this)\n');
    // The details cannot overwrite the error.
    const clash = output(true);
    clash.out.error(new Error('real'), { error: 'fake' });
    expect(JSON.parse(clash.stdout.text).error).toEqual({ code: 'CGK_UNEXPECTED', message: 'real' });
  });

  it('prints a usage error as { ok: false, error: { code: CGK_USAGE } }', () => {
    const { out, stdout } = output(true);
    expect(out.usage(`error: too many arguments ${URL_WITH_PASSWORD}`)).toBe(EXIT_USAGE);
    expect(JSON.parse(stdout.text)).toEqual({
      ok: false,
      error: { code: 'CGK_USAGE', message: 'too many arguments postgres://app:***@db.example.com:5432/shop' },
    });
  });
});

describe('formatting helpers', () => {
  it('table() aligns columns two spaces apart, the last column unpadded', () => {
    expect(
      table(
        ['SLUG', 'STATUS', 'NAME'],
        [
          ['acme', 'active', 'Acme Inc.'],
          ['globex_corp', 'suspended', 'G'],
        ],
      ),
    ).toEqual(['SLUG         STATUS     NAME', 'acme         active     Acme Inc.', 'globex_corp  suspended  G']);
    expect(table(['A', 'B'], [])).toEqual(['A  B']);
    expect(table(['A', 'B'], [['x', '']])).toEqual(['A  B', 'x']);
    expect(table(['A', 'B', 'C'], [['x']])).toEqual(['A  B  C', 'x']);
  });

  it('plural() says 1 tenant, 0 and 2 tenants, with an irregular plural when given', () => {
    expect(plural(1, 'tenant')).toBe('1 tenant');
    expect(plural(0, 'tenant')).toBe('0 tenants');
    expect(plural(2, 'tenant')).toBe('2 tenants');
    expect(plural(3, 'summary row', 'summary rows')).toBe('3 summary rows');
    expect(plural(1, 'child', 'children')).toBe('1 child');
  });

  it('duration() gives whole milliseconds below a second, tenths of seconds above', () => {
    expect(duration(0)).toBe('0 ms');
    expect(duration(849.6)).toBe('850 ms');
    expect(duration(999.4)).toBe('999 ms');
    expect(duration(1000)).toBe('1.0 s');
    expect(duration(2449)).toBe('2.4 s');
  });

  it('errorJson() carries code, message and hint; CGK_UNEXPECTED for other errors; redacts', () => {
    expect(errorJson(new ConfigError(`at ${URL_WITH_PASSWORD}`, 'hint here'))).toEqual({
      code: 'CGK_CONFIG',
      message: 'at postgres://app:***@db.example.com:5432/shop',
      hint: 'hint here',
    });
    expect(errorJson(new Error('plain'))).toEqual({ code: 'CGK_UNEXPECTED', message: 'plain' });
    expect(Object.keys(errorJson(new CgkError('CGK_QUERY', 'no hint')))).toEqual(['code', 'message']);
  });

  it('oneLine() joins trimmed non-empty lines with single spaces', () => {
    expect(oneLine('  a  \r\n\n b\nc  ')).toBe('a b c');
    expect(oneLine('single')).toBe('single');
    expect(oneLine('\n\n')).toBe('');
  });

  it('exit codes are 0, 1 and 2', () => {
    expect([EXIT_OK, EXIT_FAILURE, EXIT_USAGE]).toEqual([0, 1, 2]);
  });
});
