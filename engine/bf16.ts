// bfloat16: the top 16 bits of a float32. Frozen 16-bit checkpoint weights stay in this form on
// the device (two per 32-bit word, the even element in the low half, as safetensors stores
// them) and are widened where a kernel reads them, which is exact: a 16-bit shift.

/** f32 bits → bf16 bits, rounding to nearest even; NaN stays a (quiet) NaN. */
export function f32BitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The bf16 bit patterns of `values`, each rounded to nearest even. */
export function toBf16Bits(values: ArrayLike<number>): Uint16Array {
  const f = Float32Array.from(values);
  const bits = new Uint32Array(f.buffer);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = f32BitsToBf16(bits[i]);
  return out;
}

/** The float32 values of bf16 bit patterns (exact). */
export function bf16BitsToF32(bits: ArrayLike<number>, out = new Float32Array(bits.length)): Float32Array {
  const words = new Uint32Array(out.buffer, out.byteOffset, bits.length);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return out;
}
