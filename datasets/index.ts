// The datasets package's public API: the Question-Steps-Answer record, reading and writing the
// supported formats, the built-in generators, prompts as the method builds them, answer checking.
export type { QuestionStepsAnswer, QsaRecord, SourceRef } from './record.js';
export { loadRecords, streamRecords, detectFormat, INPUT_FORMATS, type InputFormat, type LoadOptions, type LoadedDataset, type BadRecordPolicy } from './load.js';
export { writeRecords, OUTPUT_FORMATS, type OutputFormat } from './write.js';
export { DatasetError, MalformedRecord } from './dataset_error.js';
export { arithmeticDataset, drawArithmeticProblem, DEFAULT_ARITHMETIC_OPTIONS, type ArithmeticOptions } from './synthetic.js';
export { multiplicationDataset, multiplicationRecord, type MultiplicationOptions } from './multiplication.js';
export { SPLITS, splitOfQuestion, type Split } from './split.js';
export { Rng } from './rng.js';
export { encodeExample, encodeInferencePrompt, questionPromptText, answerText, THINKING_SEPARATOR, type PromptTokenizer, type EncodedExample, type ThinkingSpeed } from './prompt.js';
export { extractAnswer, isCorrectAnswer } from './answer.js';
export { syntheticTokenizerFiles, buildTokenizerFiles, type TokenizerFiles, type NumberTokens } from './vocab.js';
export { summarize, tokenLengths, type Summary, type TokenLengths } from './stats.js';
