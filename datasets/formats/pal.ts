// PAL-style JSON lines (reasoning-machines/pal: SVAMP, MultiArith, GSM-Hard, ASDiv):
// {"input", "target"} plus, in some files, the solving program as "code" or "equations".
// Steps come from whatever the file offers (the reference uses GSM-Hard's program as one
// step, docs/METHOD.md §5.3) and are empty otherwise; these sets are for testing only.

import { MalformedRecord } from '../dataset_error.js';
import type { QuestionStepsAnswer } from '../record.js';
import { describe, parseJsonObject, stringField } from './json_line.js';

function answerText(target: unknown): string {
  if (typeof target === 'number' && Number.isFinite(target)) return String(target);
  if (typeof target === 'string' && target.trim() !== '') return target.trim();
  throw new MalformedRecord(`field 'target' must be a number or a non-empty string, got ${describe(target)}`);
}

function stepsOffered(object: Record<string, unknown>): string[] {
  const { code, equations } = object;
  if (typeof code === 'string') return [code];
  if (typeof equations === 'string') return [equations];
  if (Array.isArray(equations) && equations.every((step) => typeof step === 'string')) return equations;
  if (code !== undefined || equations !== undefined) throw new MalformedRecord(`'code' must be a string and 'equations' a string or a list of strings`);
  return [];
}

export function parsePalLine(text: string): QuestionStepsAnswer {
  const object = parseJsonObject(text);
  return { question: stringField(object, 'input'), steps: stepsOffered(object), answer: answerText(object.target) };
}
