// engine.scope(fn): every tensor made inside fn that fn does not return is disposed when fn
// returns (like tf.tidy). Scopes nest; survivors move to the enclosing scope.

interface Disposable {
  dispose(): void;
}

const scopes: Set<Disposable>[] = [];

export function track<T extends Disposable>(t: T): T {
  scopes.at(-1)?.add(t);
  return t;
}

/** Takes a tensor out of every open scope, so that it outlives them. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

export function scope<T>(fn: () => T): T {
  const tracked = new Set<Disposable>();
  scopes.push(tracked);
  let result: T;
  try {
    result = fn();
    if (isPromise(result)) throw new Error('scope(fn): fn returned a promise; scopes only track synchronous work');
  } finally {
    scopes.pop();
  }
  const survivors = new Set<Disposable>();
  collect(result, survivors);
  for (const t of tracked) {
    if (survivors.has(t)) scopes.at(-1)?.add(t);
    else t.dispose();
  }
  return result;
}

function isPromise(x: unknown): boolean {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

/** Finds the disposables in a returned value: itself, or inside arrays, maps and plain objects. */
function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if (typeof (value as Disposable).dispose === 'function') out.add(value as Disposable);
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, depth + 1);
}
