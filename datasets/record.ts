// The one record type every loader and generator produces: the reference's
// Question-Steps-Answer ("QSA", docs/METHOD.md §5.1), plus where it came from.

/** A question, its reasoning chain as separate steps, and the final answer as text. */
export interface QuestionStepsAnswer {
  question: string;
  steps: string[];
  answer: string;
}

/** Where a record was read (or, for generated data, a descriptive pseudo-file). */
export interface SourceRef {
  file: string;
  /** 1-based line on which the record starts. */
  line: number;
}

export interface QsaRecord extends QuestionStepsAnswer {
  /** 0-based position among the records of its source, malformed ones included, so ids do not shift with the skip policy. */
  id: number;
  source: SourceRef;
}
