// Progress lines, driven by a fake clock into a fake stream: the ETA arithmetic, the terminal bar
// versus plain lines, and how often each is written.

import { describe, expect, it } from 'vitest';
import { Progress, formatCompact, formatDuration } from '../../colar/logging/progress.js';

function fakeRun(isTTY: boolean, total = 100, intervalMs?: number) {
  const writes: string[] = [];
  let clock = 1_000_000;
  const progress = new Progress({
    total,
    label: 'train',
    stream: { isTTY, write: (text: string) => writes.push(text) },
    now: () => clock,
    ...(intervalMs === undefined ? {} : { intervalMs }),
  });
  const advance = (ms: number): void => {
    clock += ms;
  };
  return { progress, writes, advance };
}

describe('formatting', () => {
  it('writes durations as h:mm:ss', () => {
    expect(formatDuration(0)).toBe('0:00:00');
    expect(formatDuration(59.4)).toBe('0:00:59');
    expect(formatDuration(61)).toBe('0:01:01');
    expect(formatDuration(27 * 3600 + 5)).toBe('27:00:05');
    expect(formatDuration(-3)).toBe('0:00:00');
  });

  it('writes numbers compactly', () => {
    expect(formatCompact(1.23456)).toBe('1.235');
    expect(formatCompact(0.5)).toBe('0.5');
    expect(formatCompact(42)).toBe('42');
    expect(formatCompact(3e-4)).toBe('3e-4');
    expect(formatCompact(1.23456e-7)).toBe('1.235e-7');
    expect(formatCompact(2.5e7)).toBe('2.5e7');
    expect(formatCompact(12345.678)).toBe('12350');
    expect(formatCompact(-0.0123456)).toBe('-0.01235');
    expect(formatCompact(Number.NaN)).toBe('NaN');
    expect(formatCompact(Number.NEGATIVE_INFINITY)).toBe('-Inf');
  });
});

describe('Progress, plain output', () => {
  it('computes rate and ETA from the items done so far', () => {
    const { progress, writes, advance } = fakeRun(false);
    advance(10_000);
    progress.tick(25, { loss: 1.23456, phase: 'sft' });
    // 25 items in 10 s: 2.5 it/s, 75 left: 30 s
    expect(writes).toEqual(['train 25/100 25.0% 2.5 it/s ETA 0:00:30 loss=1.235 phase=sft\n']);
  });

  it('writes at most one line per interval, and always one at done', () => {
    const { progress, writes, advance } = fakeRun(false, 100, 10_000);
    for (let second = 1; second <= 35; second++) {
      advance(1000);
      progress.tick();
    }
    expect(writes.map((line) => line.split(' ')[1])).toEqual(['10/100', '20/100', '30/100']);
    advance(500);
    progress.done({ loss: 0.5 });
    expect(writes).toHaveLength(4);
    expect(writes[3]).toBe('train 35/100 35.0% 0.9859 it/s done in 0:00:36 loss=0.5\n');
    expect(writes.every((line) => line.endsWith('\n') && !line.includes('\r'))).toBe(true);
  });

  it('shows a finished count with no time left, and ignores calls after done', () => {
    const { progress, writes, advance } = fakeRun(false, 4, 1000);
    advance(2000);
    progress.tick(4);
    expect(writes[0]).toContain('4/4 100.0% 2 it/s ETA 0:00:00');
    progress.done();
    progress.done();
    progress.tick();
    expect(writes).toHaveLength(2);
  });

  it('writes "?" for rate and ETA before any time or item has passed', () => {
    const { progress, writes } = fakeRun(false, 10, 0);
    progress.tick(0);
    expect(writes).toEqual(['train 0/10 0.0% ? it/s ETA ?\n']);
  });
});

describe('Progress, terminal', () => {
  it('redraws one bar line in place and ends it at done', () => {
    const { progress, writes, advance } = fakeRun(true, 40);
    advance(1000);
    progress.tick(10, { lr: 3e-4 });
    expect(writes).toEqual(['\rtrain [#####...............] 10/40 25.0% 10 it/s ETA 0:00:03 lr=3e-4\x1b[K']);
    advance(3000);
    progress.done();
    expect(writes[1]).toBe('\rtrain [#####...............] 10/40 25.0% 2.5 it/s done in 0:00:04 lr=3e-4\x1b[K\n');
  });

  it('redraws at most every 100 ms however often it ticks', () => {
    const { progress, writes, advance } = fakeRun(true, 10_000);
    for (let tick = 0; tick < 1000; tick++) {
      advance(1);
      progress.tick();
    }
    // the first tick draws at once, then one redraw per 100 ms
    expect(writes).toHaveLength(10);
    expect(writes.every((line) => line.startsWith('\r') && !line.includes('\n'))).toBe(true);
  });
});
