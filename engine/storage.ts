// A reference-counted handle on a backend's memory. Tensors that share memory (a reshape, a
// tensor saved for backward) each hold one reference; the memory returns to its backend's
// pool when the last one is released.

export abstract class Storage {
  private refs = 1;

  retain(): this {
    if (this.refs <= 0) throw new Error('storage used after it was freed');
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs <= 0) throw new Error('storage released twice');
    if (--this.refs === 0) this.free();
  }

  protected abstract free(): void;
}
