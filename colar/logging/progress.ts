// Progress of long work (training steps, eval samples, data preparation). On a terminal it is one
// bar line redrawn in place; into a file or pipe it is a plain line every intervalMs, so logs stay
// short, plus a final line at done().
//   TTY:   label [#######.............] 35/100 35.0% 3.5 it/s ETA 0:00:19 loss=1.234
//   plain: label 35/100 35.0% 3.5 it/s ETA 0:00:19 loss=1.234

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export type ProgressFields = Record<string, number | string>;

export interface ProgressOptions {
  total: number;
  label: string;
  /** default process.stderr, so progress never mixes with results written to stdout */
  stream?: ProgressStream;
  /** milliseconds; injectable so tests can drive the clock */
  now?: () => number;
  /** least time between plain lines; default 10 s */
  intervalMs?: number;
}

/** Redraw a terminal bar at most this often: live to the eye, free for ticks in a hot loop. */
const TTY_REDRAW_MS = 100;
const BAR_WIDTH = 20;
const CLEAR_TO_END_OF_LINE = '\x1b[K';

export class Progress {
  private readonly total: number;
  private readonly label: string;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly redrawMs: number;
  private readonly startedAt: number;
  private lastShownAt: number;
  private count = 0;
  private fields: ProgressFields = {};
  private finished = false;

  constructor(opts: ProgressOptions) {
    this.total = opts.total;
    this.label = opts.label;
    this.stream = opts.stream ?? process.stderr;
    this.now = opts.now ?? Date.now;
    this.redrawMs = this.stream.isTTY ? TTY_REDRAW_MS : (opts.intervalMs ?? 10_000);
    this.startedAt = this.now();
    // A bar appears at the first tick; a plain line only once an interval has passed.
    this.lastShownAt = this.stream.isTTY ? -Infinity : this.startedAt;
  }

  /** Counts n more items done; fields (e.g. the latest loss) replace the ones shown. */
  tick(n = 1, fields?: ProgressFields): void {
    if (this.finished) return;
    this.count += n;
    if (fields) this.fields = fields;
    const now = this.now();
    if (now - this.lastShownAt < this.redrawMs) return;
    this.lastShownAt = now;
    this.show(now);
  }

  /** Shows the final state (always), with the elapsed time in place of the ETA. */
  done(fields?: ProgressFields): void {
    if (this.finished) return;
    this.finished = true;
    if (fields) this.fields = fields;
    this.show(this.now());
  }

  private show(now: number): void {
    const fraction = this.total > 0 ? Math.min(1, this.count / this.total) : 1;
    const elapsedSeconds = (now - this.startedAt) / 1000;
    const rate = this.count / elapsedSeconds;
    const remaining = Math.max(0, this.total - this.count);
    const timing = this.finished ? `done in ${formatDuration(elapsedSeconds)}` : `ETA ${formatEta(remaining, rate)}`;
    const parts = [
      `${this.count}/${this.total}`,
      `${(fraction * 100).toFixed(1)}%`,
      `${elapsedSeconds > 0 ? formatCompact(rate) : '?'} it/s`,
      timing,
      ...Object.entries(this.fields).map(([key, value]) => `${key}=${typeof value === 'number' ? formatCompact(value) : value}`),
    ];
    if (this.stream.isTTY) {
      const filled = Math.round(fraction * BAR_WIDTH);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
      this.stream.write(`\r${[this.label, bar, ...parts].join(' ')}${CLEAR_TO_END_OF_LINE}${this.finished ? '\n' : ''}`);
    } else {
      this.stream.write(`${[this.label, ...parts].join(' ')}\n`);
    }
  }
}

function formatEta(remaining: number, rate: number): string {
  if (remaining === 0) return formatDuration(0);
  return rate > 0 && Number.isFinite(rate) ? formatDuration(remaining / rate) : '?';
}

/** h:mm:ss, hours unbounded. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  return `${hours}:${String(minutes).padStart(2, '0')}:${String(secs).padStart(2, '0')}`;
}

/** Four significant digits at most, exponent form only for very small or large values: 1.234, 3e-4. */
export function formatCompact(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Inf' : '-Inf';
  const magnitude = Math.abs(value);
  if (Number.isInteger(value) && magnitude < 1e6) return String(value);
  if (magnitude >= 1e-3 && magnitude < 1e5) return String(Number(value.toPrecision(4)));
  const [mantissa, exponent] = value.toExponential(3).split('e') as [string, string];
  return `${Number(mantissa)}e${exponent.replace('+', '')}`;
}
