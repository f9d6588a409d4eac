// Training sequences as slots. A slot is one input position: one token (question, answer,
// uncompressed steps) or a compressed group of up to c step tokens, whose input embedding is
// Σ w·E[token] with w = 1/√(real tokens in the group) (or 1/count with mean pooling).
// Group alignment follows the method: the steps' leading "###" is a group of its own (it ends
// its group), and the step tokens start at a group boundary, so a row with n step tokens has
// 1 + ⌈n/c⌉ compressed groups and never an all-padding group. The reference's batches do hold
// all-padding groups (its steps are left-padded to the batch's longest chain and then aligned;
// docs/METHOD.md §2.2): `referencePadding` reproduces them as masked slots — before the "###",
// and one after the last real group, where the answer's "###" is then predicted from the pad
// and the last group's latent target is the zero vector. Rows are right-padded; a slot's
// position counts the real slots before it, as the reference's cumsum(mask) − 1 does.

import type { EncodedExample } from '../datasets/prompt.js';
import type { POOLINGS } from './config_schema.js';

export const IGNORE_INDEX = -100;

export type Pooling = (typeof POOLINGS)[number];

export interface SlotBatch {
  B: number;
  /** slots per row */
  L: number;
  /** token members per slot (the compression factor, 1 for plain text) */
  width: number;
  /** i32 [B, L, width]: member token ids (padId where unused) */
  ids: Int32Array;
  /** f32 [B, L, width]: member weights (0 where unused) */
  weights: Float32Array;
  /** f32 [B, L]: 1 for a real slot */
  mask: Float32Array;
  /** i32 [B, L]: the token logits at slot t must predict (the label of slot t+1), or IGNORE_INDEX */
  targets: Int32Array;
  /** flat indices b·L+t of compressed-chain slots: the latent head at t predicts slot t+1's embedding */
  latentSlots: Int32Array;
  /** steps slots per row (the chain length in slots: CoT tokens or compressed groups, "###" included) */
  chainSlots: number[];
  /** i32 [B, L]: each slot's position, the number of real slots before it in its row */
  positions: Int32Array;
}

export interface SlotOptions {
  compression: number;
  pooling: Pooling;
  padId: number;
  /** uniform draws in [0,1) for choosing each group's label token */
  random: () => number;
  /** with `false`, the steps are dropped entirely (the No-CoT baseline) */
  withSteps?: boolean;
  /** the reference's all-padding groups, as masked slots (see the header) */
  referencePadding?: boolean;
}

interface Slot {
  tokens: number[];
  /** the token this slot teaches the LM head to predict (IGNORE_INDEX for a padding group) */
  label: number;
  kind: 'question' | 'chain' | 'answer' | 'pad';
}

/** All-padding groups before the "###" and after the last real group of a row. */
interface PadGroups {
  before: number;
  after: number;
}

/**
 * The reference's padding arithmetic for a batch whose rows' steps ("###" included) have these
 * lengths: each row is left-padded to the longest, then padded on both sides so that "###" ends
 * a group and every row has the same length, a multiple of c. Returns each row's groups that
 * hold only padding, before its "###" and after its last real token.
 */
export function referencePadGroups(stepLengths: number[], c: number): PadGroups[] {
  const T = Math.max(...stepLengths);
  if (c === 1) return stepLengths.map((n) => ({ before: T - n, after: 0 }));
  const extra = stepLengths.map((n) => c - 1 - ((T - n) % c));
  const padded = T + Math.max(...extra);
  const minRight = c - (padded % c);
  return stepLengths.map((n, b) => {
    let left = extra[b];
    let right = minRight + (c - 1 - left);
    if (right === c) {
      left += c;
      right = 0;
    }
    const leading = T - n + left; // pads before "###"
    const length = left + T + right;
    const lastGroupEnd = Math.ceil((leading + n) / c) * c;
    return { before: Math.floor(leading / c), after: (length - lastGroupEnd) / c };
  });
}

function rowSlots(ex: EncodedExample, o: SlotOptions, pads: PadGroups): Slot[] {
  const slots: Slot[] = ex.question.map((t) => ({ tokens: [t], label: t, kind: 'question' as const }));
  const padGroup = (): Slot => ({ tokens: [], label: IGNORE_INDEX, kind: 'pad' });
  if (o.withSteps !== false) {
    const [separator, ...steps] = ex.steps;
    for (let i = 0; i < pads.before; i++) slots.push(padGroup());
    slots.push({ tokens: [separator], label: separator, kind: 'chain' });
    for (let i = 0; i < steps.length; i += o.compression) {
      const group = steps.slice(i, i + o.compression);
      // one random real member is the group's label (the method's multinomial over the mask)
      slots.push({ tokens: group, label: group[Math.min(group.length - 1, Math.floor(o.random() * group.length))], kind: 'chain' });
    }
    for (let i = 0; i < pads.after; i++) slots.push(padGroup());
  }
  for (const t of ex.answer) slots.push({ tokens: [t], label: t, kind: 'answer' });
  return slots;
}

export function buildSlotBatch(examples: EncodedExample[], o: SlotOptions): SlotBatch {
  if (!Number.isInteger(o.compression) || o.compression < 1) throw new Error(`compression factor must be a positive integer, got ${o.compression}`);
  const noPads = { before: 0, after: 0 };
  const pads = o.referencePadding && o.withSteps !== false ? referencePadGroups(examples.map((ex) => ex.steps.length), o.compression) : examples.map(() => noPads);
  const rows = examples.map((ex, b) => rowSlots(ex, o, pads[b]));
  const B = rows.length;
  const L = Math.max(...rows.map((r) => r.length));
  const width = o.compression;
  const ids = new Int32Array(B * L * width).fill(o.padId);
  const weights = new Float32Array(B * L * width);
  const mask = new Float32Array(B * L);
  const targets = new Int32Array(B * L).fill(IGNORE_INDEX);
  const positions = new Int32Array(B * L);
  const latentSlots: number[] = [];
  const chainSlots: number[] = [];
  rows.forEach((slots, b) => {
    let real = 0;
    slots.forEach((slot, t) => {
      positions[b * L + t] = Math.max(0, real - (slot.kind === 'pad' ? 1 : 0));
      if (slot.kind === 'pad') {
        if (slots[t + 1]) targets[b * L + t] = slots[t + 1].label;
        return;
      }
      real++;
      const base = (b * L + t) * width;
      const w = o.pooling === 'sqrt' ? 1 / Math.sqrt(slot.tokens.length) : 1 / slot.tokens.length;
      slot.tokens.forEach((tok, j) => {
        ids[base + j] = tok;
        weights[base + j] = w;
      });
      mask[b * L + t] = 1;
      const next = slots[t + 1];
      if (next && next.kind !== 'question') targets[b * L + t] = next.label;
      if (slot.kind === 'chain') latentSlots.push(b * L + t);
    });
    chainSlots.push(slots.filter((s) => s.kind === 'chain').length);
  });
  return { B, L, width, ids, weights, mask, targets, latentSlots: Int32Array.from(latentSlots), chainSlots, positions };
}
