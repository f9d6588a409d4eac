// The iCoT text format (da03/Internalize_CoT_Step_by_Step), used by GSM8k-Aug and the
// multiplication sets: `question||chain #### answer`, one record a line.
//  - GSM8k-Aug chains are calculator equations separated by spaces: `<<16-3-4=9>> <<9*2=18>>`;
//    as in Coconut's conversion (docs/METHOD.md §5.2) each equation is one step. Chains may be empty.
//  - Multiplication chains are reversed-digit partial products joined by ` + `, each after the
//    first followed by its running sum in parentheses; each partial product (with its sum) is one step.
// Answers are kept as written (GSM8k-Aug has thousands commas; the answer check removes them).

import { MalformedRecord } from '../dataset_error.js';
import type { QuestionStepsAnswer } from '../record.js';

const QUESTION_END = '||';
const ANSWER_MARK = '####';
const PARTIAL_PRODUCT_JOIN = ' + ';

function isEquationChain(chain: string): boolean {
  return chain.startsWith('<<');
}

export function parseIcotLine(text: string): QuestionStepsAnswer {
  const questionEnd = text.indexOf(QUESTION_END);
  if (questionEnd < 0) throw new MalformedRecord(`missing '${QUESTION_END}' between question and chain`);
  const rest = text.slice(questionEnd + QUESTION_END.length);
  const answerMark = rest.indexOf(ANSWER_MARK);
  if (answerMark < 0) throw new MalformedRecord(`missing '${ANSWER_MARK}' before the answer`);
  const question = text.slice(0, questionEnd);
  const chain = rest.slice(0, answerMark).trim();
  const answer = rest.slice(answerMark + ANSWER_MARK.length).trim();
  if (question.trim() === '') throw new MalformedRecord('empty question');
  if (answer === '') throw new MalformedRecord('empty answer');
  if (rest.includes(ANSWER_MARK, answerMark + ANSWER_MARK.length)) throw new MalformedRecord(`more than one '${ANSWER_MARK}'`);
  let steps: string[];
  if (chain === '') steps = [];
  else if (isEquationChain(chain)) steps = chain.split(/\s+/);
  else steps = chain.split(PARTIAL_PRODUCT_JOIN);
  return { question, steps, answer };
}

/** The inverse of parseIcotLine: reproduces the published files byte for byte. */
export function formatIcotLine(record: QuestionStepsAnswer): string {
  const join = record.steps.length > 0 && isEquationChain(record.steps[0]) ? ' ' : PARTIAL_PRODUCT_JOIN;
  return `${record.question}${QUESTION_END}${record.steps.join(join)} ${ANSWER_MARK} ${record.answer}`;
}
