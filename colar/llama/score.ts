// How likely a model finds a text: the log-probability of each token given the ones before it.

import * as E from '../../engine/index.js';
import type { Llama } from './model.js';

/** log p(ids[i+1] | ids[0..i]) for each i, in nats: ids.length − 1 numbers. */
export async function tokenLogprobs(model: Llama, ids: number[]): Promise<number[]> {
  const engine = model.engine;
  const T = ids.length;
  const nll = E.noGrad(() =>
    engine.scope(() => {
      const { logits } = model.forward({ ids: engine.tensor(ids, [1, T], 'i32') });
      const targets = engine.tensor([...ids.slice(1), -100], [T], 'i32');
      return E.crossEntropy(E.reshape(logits!, [T, -1]), targets, { reduction: 'none' });
    }),
  );
  const values = Array.from(await nll.data()).slice(0, T - 1).map((x) => -x);
  nll.dispose();
  return values;
}
