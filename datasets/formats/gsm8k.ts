// Original GSM8K JSON lines (openai/grade-school-math): {"question", "answer"}, where the answer
// is a worked solution with <<expr=value>> calculator annotations and a last line `#### n`.
// GSM8k-Aug's chains are exactly those annotations, so keeping only them converts GSM8K to the
// equations-only format CoLaR trains on. The final answer is normalised (thousands commas
// removed): GSM8k-Aug keeps them on 14 of 1,319 test lines, the answer check ignores them, and a
// model need not learn to write them.

import { MalformedRecord } from '../dataset_error.js';
import type { QuestionStepsAnswer } from '../record.js';
import { parseJsonObject, stringField } from './json_line.js';

const ANNOTATION = /<<.*?>>/g;
const ANSWER_MARK = '####';

export function parseGsm8kLine(text: string): QuestionStepsAnswer {
  const object = parseJsonObject(text);
  const question = stringField(object, 'question');
  const solution = stringField(object, 'answer');
  const answerMark = solution.lastIndexOf(ANSWER_MARK);
  if (answerMark < 0) throw new MalformedRecord(`solution has no '${ANSWER_MARK}' line`);
  const answer = solution.slice(answerMark + ANSWER_MARK.length).trim().replaceAll(',', '');
  if (answer === '') throw new MalformedRecord('empty answer');
  const steps = solution.slice(0, answerMark).match(ANNOTATION) ?? [];
  return { question, steps, answer };
}
