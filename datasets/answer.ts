// Answer extraction and checking exactly as the reference (docs/METHOD.md §5.5):
//   pred  = decoded.split("Answer:")[1]   (the whole string when "Answer:" is missing)
//   clean = s.strip("\n ").rstrip(".").replace(",", "")   (pred additionally .rstrip(".\n"))
//   correct = float(clean(gt)) == float(clean(pred)) when both parse as Python floats,
//             else clean(gt) == clean(pred)

const ANSWER_MARK = 'Answer:';

/** Python's str.strip/rstrip with an explicit character set. */
function stripChars(text: string, chars: string, side: 'both' | 'right'): string {
  let start = 0;
  let end = text.length;
  if (side === 'both') while (start < end && chars.includes(text[start])) start++;
  while (end > start && chars.includes(text[end - 1])) end--;
  return text.slice(start, end);
}

/** The text of Python's split("Answer:")[1]: between the first and the second mark. */
export function extractAnswer(decoded: string): string {
  const parts = decoded.split(ANSWER_MARK);
  return parts.length > 1 ? parts[1] : decoded;
}

export function cleanAnswer(text: string): string {
  return stripChars(stripChars(text, '\n ', 'both'), '.', 'right').replaceAll(',', '');
}

function cleanPrediction(text: string): string {
  return cleanAnswer(stripChars(text, '.\n', 'right'));
}

// Python float(): optional sign, digits with single underscores between them, a fraction,
// an exponent; or inf/infinity/nan in any case; surrounding whitespace allowed.
const PYTHON_DIGITS = '\\d(?:_?\\d)*';
const PYTHON_FLOAT = new RegExp(
  `^\\s*[+-]?(?:(?:${PYTHON_DIGITS}(?:\\.(?:${PYTHON_DIGITS})?)?|\\.${PYTHON_DIGITS})(?:[eE][+-]?${PYTHON_DIGITS})?|inf(?:inity)?|nan)\\s*$`,
  'i',
);

/** The value Python's float(text) gives, or undefined where it raises ValueError. */
export function parsePythonFloat(text: string): number | undefined {
  if (!PYTHON_FLOAT.test(text)) return undefined;
  const plain = text.trim().replaceAll('_', '').toLowerCase();
  if (plain.endsWith('nan')) return NaN;
  if (plain.endsWith('inf') || plain.endsWith('infinity')) return plain.startsWith('-') ? -Infinity : Infinity;
  return Number(plain);
}

/** Compares a decoded model output with the ground-truth answer, as the reference scores accuracy. */
export function isCorrectAnswer(groundTruth: string, decodedOutput: string): boolean {
  const expected = cleanAnswer(groundTruth);
  const predicted = cleanPrediction(extractAnswer(decodedOutput));
  const expectedValue = parsePythonFloat(expected);
  const predictedValue = parsePythonFloat(predicted);
  if (expectedValue !== undefined && predictedValue !== undefined) return expectedValue === predictedValue;
  return expected === predicted;
}
