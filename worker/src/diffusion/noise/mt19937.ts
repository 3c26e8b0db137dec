/**
 * MT19937, the Mersenne Twister both numpy's legacy `RandomState` and torch's CPU generator draw
 * from. Both seed it with Matsumoto and Nishimura's `init_genrand` from a 32-bit seed.
 */
const STATE_SIZE = 624;
const SHIFT_SIZE = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class Mt19937 {
  private readonly state = new Uint32Array(STATE_SIZE);
  private index = STATE_SIZE;

  /** `seed` must already be a 32-bit unsigned integer. */
  constructor(seed: number) {
    const state = this.state;
    state[0] = seed;
    let previous = seed >>> 0;
    for (let i = 1; i < STATE_SIZE; i++) {
      // Math.imul keeps the 32-bit wrap-around the C code relies on.
      previous = (Math.imul(1812433253, previous ^ (previous >>> 30)) + i) >>> 0;
      state[i] = previous;
    }
  }

  /** Next 32-bit unsigned output. */
  nextUint32(): number {
    if (this.index >= STATE_SIZE) this.regenerate();
    let y = this.state[this.index++] ?? 0;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Refills the whole state block at once (the reference's `next_state`). */
  private regenerate(): void {
    const state = this.state;
    let k = 0;
    for (; k < STATE_SIZE - SHIFT_SIZE; k++) {
      const y = ((state[k] ?? 0) & UPPER_MASK) | ((state[k + 1] ?? 0) & LOWER_MASK);
      state[k] = (state[k + SHIFT_SIZE] ?? 0) ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    }
    for (; k < STATE_SIZE - 1; k++) {
      const y = ((state[k] ?? 0) & UPPER_MASK) | ((state[k + 1] ?? 0) & LOWER_MASK);
      state[k] = (state[k + SHIFT_SIZE - STATE_SIZE] ?? 0) ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    }
    const y = ((state[STATE_SIZE - 1] ?? 0) & UPPER_MASK) | ((state[0] ?? 0) & LOWER_MASK);
    state[STATE_SIZE - 1] = (state[SHIFT_SIZE - 1] ?? 0) ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    this.index = 0;
  }
}
