/**
 * The few numpy / torch numerics the reference schedulers depend on, reproduced bit for bit where it
 * is cheap: tables are built once per schedule, so exactness costs nothing on the hot path.
 */

export const f32 = Math.fround;

const bitsView = new DataView(new ArrayBuffer(4));

/** The float32 next to `value` (itself a float32) in the direction of `toward`. */
function nextFloat32(value: number, toward: number): number {
  if (value === toward) return value;
  if (value === 0) return toward > 0 ? 1.401298464324817e-45 : -1.401298464324817e-45;
  bitsView.setFloat32(0, value);
  const bits = bitsView.getInt32(0);
  // Moving away from zero increments the magnitude bits, towards zero decrements them.
  bitsView.setInt32(0, value < toward === value > 0 ? bits + 1 : bits - 1);
  return bitsView.getFloat32(0);
}

/**
 * float32 fused multiply-add `a*b + c` with one rounding, as compiled kernels produce it (torch's
 * linspace). `a*b` must be exact in float64 (a float32 times a small integer is).
 */
export function fma32(a: number, b: number, c: number): number {
  const product = a * b;
  const sum = product + c;
  // TwoSum: `sum + error` is exactly `product + c`.
  const bv = sum - product;
  const error = product - (sum - bv) + (c - bv);
  const rounded = f32(sum);
  if (error === 0 || rounded === sum) return rounded;
  // Rounding `sum` only misses the exact result when `sum` sits exactly halfway between two float32s.
  const other = nextFloat32(rounded, sum);
  if (Math.abs(sum - rounded) !== Math.abs(other - sum)) return rounded;
  return error > 0 === other > rounded ? other : rounded;
}

/** numpy's `round`: half to even. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** `numpy.linspace(start, stop, num)` in float64, including its exact endpoint. */
export function numpyLinspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const values: number[] = [];
  if (div <= 0) {
    for (let i = 0; i < num; i++) values.push(start);
    return values;
  }
  const step = (stop - start) / div;
  for (let i = 0; i < num; i++) values.push(i * step + start);
  if (endpoint && num > 1) values[num - 1] = stop;
  return values;
}

/**
 * `numpy.arange(start, stop, step)` for floats: the length is `ceil((stop - start) / step)` and the
 * values are `start + i * delta`, where numpy re-derives delta from its first two values.
 */
export function numpyArange(start: number, stop: number, step: number): number[] {
  const length = Math.max(Math.ceil((stop - start) / step), 0);
  const delta = start + step - start;
  const values: number[] = [];
  for (let i = 0; i < length; i++) values.push(start + i * delta);
  return values;
}

/**
 * `torch.linspace(start, end, steps, dtype=float32)` on CPU: the first half counts up from start, the
 * second half down from end, each value one float32 fused multiply-add.
 */
export function torchLinspaceFloat32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const first = f32(start);
  const last = f32(end);
  const step = f32(f32(last - first) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) {
    out[i] = i < halfway ? fma32(step, i, first) : fma32(-step, steps - i - 1, last);
  }
  return out;
}

/** `torch.cumprod` of a float32 tensor on CPU: accumulated in float64, each prefix stored as float32. */
export function cumulativeProductFloat32(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  let product = 1;
  for (let i = 0; i < values.length; i++) {
    product *= values[i] ?? 0;
    out[i] = product;
  }
  return out;
}

/**
 * `numpy.interp(x, arange(len(table)), table)` in float64: linear between integer positions, clamped
 * at both ends.
 */
export function interpolateTable(x: number, table: ArrayLike<number>): number {
  const last = table.length - 1;
  if (x <= 0) return table[0] ?? 0;
  if (x >= last) return table[last] ?? 0;
  const j = Math.floor(x);
  const low = table[j] ?? 0;
  if (x === j) return low;
  const high = table[j + 1] ?? 0;
  return (high - low) * (x - j) + low;
}

/** Solves the small dense system `matrix * x = rhs` (Gaussian elimination with partial pivoting). */
export function solveLinearSystem(matrix: number[][], rhs: number[]): number[] {
  const n = rhs.length;
  const a = matrix.map((row, i) => [...row.slice(0, n), rhs[i] ?? 0]);
  const at = (r: number, c: number): number => a[r]?.[c] ?? 0;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(at(r, col)) > Math.abs(at(pivot, col))) pivot = r;
    const pivotRow = a[pivot] ?? [];
    a[pivot] = a[col] ?? [];
    a[col] = pivotRow;
    for (let r = col + 1; r < n; r++) {
      const factor = at(r, col) / at(col, col);
      const row = a[r] ?? [];
      for (let c = col; c <= n; c++) row[c] = (row[c] ?? 0) - factor * at(col, c);
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let sum = at(r, n);
    for (let c = r + 1; c < n; c++) sum -= at(r, c) * (x[c] ?? 0);
    x[r] = sum / at(r, r);
  }
  return x;
}
