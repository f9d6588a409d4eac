// Prints benchmark records as an aligned table.
import type { BenchRecord } from './record.js';

export function formatTable(records: BenchRecord[]): string {
  const header = ['name', 'shape', 'ms', 'GFLOP/s', 'GB/s', '% ceiling', '% step', 'tokens/s', 'steps/s'];
  const rows = records.map((r) => [
    r.name,
    r.shape,
    r.ms_median.toFixed(3),
    r.gflops === undefined ? '' : r.gflops.toFixed(2),
    r.gbps === undefined ? '' : r.gbps.toFixed(2),
    r.pct_of_ceiling === undefined ? '' : r.pct_of_ceiling.toFixed(0),
    r.pct_of_step === undefined ? '' : r.pct_of_step.toFixed(1),
    r.tokens_per_s === undefined ? '' : r.tokens_per_s.toFixed(r.tokens_per_s < 10 ? 2 : 0),
    r.steps_per_s === undefined ? '' : r.steps_per_s.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
