// The reference's QSA JSON (docs/METHOD.md §5.1): one JSON array of
// {"question": str, "steps": [str], "answer": str}; extra keys are ignored.
// The array is scanned as a stream, element by element, so a large file is never parsed whole
// and a bad element is reported at the line where it starts.

import { DatasetError, MalformedRecord } from '../dataset_error.js';
import type { QuestionStepsAnswer } from '../record.js';
import { readUtf8Chunks } from '../utf8_text.js';
import { describe, parseJsonObject, stringField } from './json_line.js';

export interface JsonArrayElement {
  text: string;
  /** 1-based line where the element starts. */
  line: number;
}

type ScanState = 'before-array' | 'first-element' | 'next-element' | 'in-element' | 'after-element' | 'after-array';

const isWhitespace = (char: string) => char === ' ' || char === '\n' || char === '\r' || char === '\t' || char === '\uFEFF';

/**
 * Yields the raw text of each top-level element of a JSON array file. Structural faults (no
 * array, a missing comma, an unterminated element) are fatal: nothing after them can be trusted.
 */
export async function* streamJsonArrayElements(file: string): AsyncGenerator<JsonArrayElement> {
  let state = 'before-array' as ScanState; // widened: the narrowing does not follow the assignments in the loops
  let line = 1;
  let element: string[] = [];
  let elementLine = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  const fail = (at: number, reason: string) => new DatasetError(file, at, reason);

  for await (const chunk of readUtf8Chunks(file)) {
    let elementStart = state === 'in-element' ? 0 : -1;
    const pending: JsonArrayElement[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const char = chunk[i];
      if (state === 'in-element') {
        if (inString) {
          if (escaped) escaped = false;
          else if (char === '\\') escaped = true;
          else if (char === '"') inString = false;
        } else if (char === '"') inString = true;
        else if (char === '{' || char === '[') depth++;
        else if (char === '}' || char === ']' || char === ',') {
          // At depth 0 a ',' or ']' ends a bare value (number, string, literal) without being part of it.
          const endsBareValue = depth === 0;
          if (!endsBareValue && char !== ',') depth--;
          if (endsBareValue || depth === 0) {
            const end = endsBareValue ? i : i + 1;
            element.push(chunk.slice(elementStart, end));
            pending.push({ text: element.join(''), line: elementLine });
            element = [];
            state = 'after-element';
            if (endsBareValue) i--; // let the separator be read as a separator
          }
        }
        if (char === '\n') line++;
        continue;
      }
      if (char === '\n') line++;
      if (isWhitespace(char)) continue;
      if (state === 'before-array') {
        if (char !== '[') throw fail(line, `expected a JSON array ('[') of {question, steps, answer}, found '${char}'`);
        state = 'first-element';
      } else if (state === 'after-element') {
        if (char === ',') state = 'next-element';
        else if (char === ']') state = 'after-array';
        else throw fail(line, `expected ',' or ']' after an array element, found '${char}'`);
      } else if (state === 'after-array') {
        throw fail(line, `unexpected '${char}' after the end of the array`);
      } else if (char === ']' && state === 'first-element') {
        state = 'after-array';
      } else if (char === ']' || char === ',') {
        throw fail(line, `expected an array element, found '${char}'`);
      } else {
        state = 'in-element';
        elementStart = i;
        elementLine = line;
        depth = 0;
        inString = false;
        escaped = false;
        i--; // scan the element's first character as part of it
      }
    }
    if (state === 'in-element') element.push(chunk.slice(elementStart));
    yield* pending;
  }
  if (state === 'in-element') throw fail(elementLine, 'unterminated array element (unbalanced brackets or an unclosed string)');
  if (state !== 'after-array') throw fail(line, state === 'before-array' ? 'empty file, expected a JSON array' : "unterminated array: missing ']'");
}

export function parseQsaElement(text: string): QuestionStepsAnswer {
  const object = parseJsonObject(text);
  const question = stringField(object, 'question');
  const { steps, answer } = object;
  if (!Array.isArray(steps) || !steps.every((step) => typeof step === 'string')) {
    throw new MalformedRecord(`field 'steps' must be a list of strings, got ${describe(steps)}`);
  }
  if (typeof answer === 'number' && Number.isFinite(answer)) return { question, steps, answer: String(answer) };
  return { question, steps, answer: stringField(object, 'answer') };
}

/** The text of a QSA JSON file, one record a line, extra fields dropped. */
export async function* qsaJsonChunks(records: AsyncIterable<QuestionStepsAnswer> | Iterable<QuestionStepsAnswer>): AsyncGenerator<string> {
  let first = true;
  yield '[';
  for await (const { question, steps, answer } of records) {
    yield `${first ? '' : ','}\n${JSON.stringify({ question, steps, answer })}`;
    first = false;
  }
  yield '\n]\n';
}
