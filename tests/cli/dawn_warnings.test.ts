// The filter that drops Dawn's two startup warnings from the command line's stderr (the command
// line itself: tests/cli/cli.test.ts).
import { describe, expect, it } from 'vitest';
import { LineFilter } from '../../cli/dawn_warnings.js';

const UNIFORM = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';
const STORAGE = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';

function filtered(chunks: string[]): string[] {
  const out: string[] = [];
  const filter = new LineFilter((text) => out.push(text));
  for (const chunk of chunks) filter.push(chunk);
  filter.end();
  return out;
}

describe('LineFilter', () => {
  it('drops exactly the two warnings, also when split across chunks, and keeps every other line', () => {
    const other = 'Warning: maxDynamicUniformBuffersPerPipelineLayout is something else';
    expect(filtered([`a\n${UNIFORM}\n`, STORAGE.slice(0, 30), `${STORAGE.slice(30)}\nb\n`, `${other}\n`]).join('')).toBe(`a\nb\n${other}\n`);
  });

  it('passes a partial line (a progress bar redrawn with \\r) on at once', () => {
    const out: string[] = [];
    const filter = new LineFilter((text) => out.push(text));
    filter.push('\r[##...] 1/3');
    expect(out).toEqual(['\r[##...] 1/3']);
  });

  it('keeps an unfinished last line at the end unless it is a warning', () => {
    expect(filtered(['x\n', 'Warning: maxDyn']).join('')).toBe('x\nWarning: maxDyn');
    expect(filtered(['x\n', UNIFORM]).join('')).toBe('x\n');
  });
});
