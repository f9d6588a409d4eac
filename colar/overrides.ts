// key=value overrides on a nested JSON config, as the reference's run.py does them: true/false
// and none/null/~ in any case, else the value JSON-parsed, else kept as the raw string; a dotted
// key sets that path; a bare key sets the one key of that name anywhere in the tree, and is an
// error when several keys have that name (`lr` is train.lr and rl.lr). (The
// reference JSON-parses the lowercased value, which lowercases quoted paths; here case stays.)
// A key that matches nothing is an error, so a typo never trains the wrong thing silently.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export function parseOverrideValue(raw: string): Json {
  const lower = raw.toLowerCase();
  if (lower === 'none' || lower === '~' || lower === 'null') return null;
  if (lower === 'true' || lower === 'false') return lower === 'true';
  try {
    return JSON.parse(raw) as Json;
  } catch {
    return raw;
  }
}

export function applyOverrides<T extends JsonObject>(config: T, overrides: string[]): T {
  const out = structuredClone(config) as JsonObject;
  for (const item of overrides) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`override "${item}": expected key=value`);
    const key = item.slice(0, eq);
    const value = parseOverrideValue(item.slice(eq + 1));
    const hits = key.includes('.') ? setPath(out, key.split('.'), value) : setBareKey(out, key, value, item);
    if (hits === 0) throw new Error(`override "${item}": no config key ${key}${suggest(allKeys(out), key)} (--print-config lists them all)`);
  }
  return out as T;
}

function setPath(obj: JsonObject, path: string[], value: Json): number {
  let node: Json = obj;
  for (const part of path.slice(0, -1)) {
    if (!isObject(node) || !(part in node)) return 0;
    node = node[part];
  }
  const last = path[path.length - 1];
  if (!isObject(node) || !(last in node)) return 0;
  node[last] = value;
  return 1;
}

function setBareKey(obj: JsonObject, key: string, value: Json, item: string): number {
  const matches = allKeys(obj).filter((k) => k === key || k.endsWith(`.${key}`));
  if (matches.length > 1) throw new Error(`override "${item}": ${key} names ${matches.length} keys (${matches.join(', ')}); use the full key`);
  return matches.length === 1 ? setPath(obj, matches[0].split('.'), value) : 0;
}

function allKeys(obj: JsonObject, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) => (isObject(v) ? allKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** ", did you mean a.b?" for the keys whose last part is closest to the typo. */
function suggest(keys: string[], key: string): string {
  const last = key.split('.').pop()!;
  const scored = keys.map((k) => ({ k, d: editDistance(k.split('.').pop()!, last) })).filter((x) => x.d <= Math.max(1, Math.floor(last.length / 3)));
  if (scored.length === 0) return '';
  const best = Math.min(...scored.map((x) => x.d));
  return `; did you mean ${scored.filter((x) => x.d === best).map((x) => x.k).join(' or ')}?`;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}
