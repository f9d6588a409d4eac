// What each format yields before validation: a record's position and a parser for it. The
// loader calls parse() and applies the bad-record policy, so formats never decide it.

import type { QuestionStepsAnswer } from './record.js';

export interface RawRecord {
  /** 1-based line where the record starts. */
  line: number;
  /** Throws MalformedRecord when the record cannot be read. */
  parse(): QuestionStepsAnswer;
}
