// A plan's report, written from its results (results.json) only: REPRO.md with its plots, or
// ABLATION.md. Returns the file written, or null for a plan that names no report.

import { join } from 'node:path';
import type { PlanResults } from './experiment.js';
import type { ReportKind } from './plan.js';
import { writeAblationReport } from './report/ablation_table.js';
import { writeReproReport } from './report/repro_report.js';
import { reproResults } from './repro.js';

export async function writePlanReport(kind: ReportKind | null, dir: string, results: PlanResults): Promise<string | null> {
  switch (kind) {
    case 'repro':
      await writeReproReport(dir, await reproResults(results));
      return join(dir, 'REPRO.md');
    case 'ablation':
      await writeAblationReport(dir, results);
      return join(dir, 'ABLATION.md');
    case null:
      return null;
  }
}
