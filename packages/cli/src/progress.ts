import type { Output } from './output.js';

/**
 * A progress bar on stderr for work over many tenants, drawn only on a terminal: one line redrawn in place,
 * at most every 50 ms (and always for the last item), so thousands of tenants do not flood the terminal.
 * Lines printed meanwhile (`above`) go above it. Off a terminal it draws nothing: callers print plain lines.
 */
export class ProgressBar {
  #drawn = false;
  #last = 0;

  constructor(
    private readonly out: Output,
    private readonly label: string,
  ) {}

  /** Whether the bar is drawn at all (stderr is a terminal). */
  get active(): boolean {
    return this.out.interactive;
  }

  /** Redraws the bar: `done` of `total`, `current` the item just finished. */
  update(done: number, total: number, current: string): void {
    if (!this.active) return;
    const now = Date.now();
    if (done < total && now - this.#last < 50) return;
    this.#last = now;
    // A terminal that reports no size (0 columns: a pty nobody sized, as under `script` or some CI runners) gets 80.
    const columns = this.out.streams.stderr.columns || 80;
    const width = Math.max(10, Math.min(40, columns - 40));
    const filled = Math.round((done / Math.max(1, total)) * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    const line = `${this.label} [${bar}] ${done}/${total} ${current}`;
    this.out.progress(`\r\x1b[2K${line.slice(0, columns - 1)}`);
    this.#drawn = true;
  }

  /** Prints `text` (a line, or raw text when `raw`) on stderr above the bar; the next update redraws the bar. */
  above(text: string): void {
    this.clear();
    this.out.progress(text);
  }

  /** Takes the bar off the screen (before writing elsewhere on the same terminal, and at the end). */
  clear(): void {
    if (!this.#drawn) return;
    this.out.progress('\r\x1b[2K');
    this.#drawn = false;
    this.#last = 0;
  }
}
