// key=value overrides on a nested JSON config, as the reference's run.py does them: true/false
// and none/null/~ in any case, else the value JSON-parsed, else kept as the raw string; a dotted
// key sets that path; a bare key sets every key of that name anywhere in the tree. (The
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
    const hits = key.includes('.') ? setPath(out, key.split('.'), value) : setEverywhere(out, key, value);
    if (hits === 0) throw new Error(`override "${item}": no config key ${key} (known keys: ${allKeys(out).join(', ')})`);
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

function setEverywhere(obj: JsonObject, key: string, value: Json): number {
  let hits = 0;
  const queue: JsonObject[] = [obj];
  while (queue.length) {
    const node = queue.shift()!;
    for (const [k, v] of Object.entries(node)) {
      if (k === key) {
        node[k] = value;
        hits++;
      } else if (isObject(v)) queue.push(v);
    }
  }
  return hits;
}

function allKeys(obj: JsonObject, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) => (isObject(v) ? allKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
