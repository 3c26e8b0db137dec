/**
 * One-level 2D Haar DWT with PyWavelets' exact floating-point operation order (`pywt.dwt2` /
 * `pywt.idwt2`, 'haar', even sizes). The decoder thresholds coefficients, so a value that lands on
 * a threshold must round the same way here as in the reference: keep these expressions as they are.
 */

/** 1/sqrt(2) as PyWavelets stores it. */
export const HAAR_SCALE = 0.7071067811865476;
const S = HAAR_SCALE;

/** A rows x cols float64 band, row-major. */
export interface Band {
  rows: number;
  cols: number;
  data: Float64Array;
}

export interface HaarBands {
  approximation: Band;
  /** PyWavelets' cH: detail across rows (horizontal edges). */
  horizontal: Band;
  /** PyWavelets' cV: detail across columns (vertical edges). */
  vertical: Band;
  diagonal: Band;
}

function band(rows: number, cols: number): Band {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/**
 * Approximation coefficient of the 2x2 cell with pixels (top-left, top-right, bottom-left,
 * bottom-right): pairs of rows first, then pairs of columns, as PyWavelets computes it.
 */
export function cellApproximation(
  topLeft: number,
  topRight: number,
  bottomLeft: number,
  bottomRight: number,
): number {
  const left = S * bottomLeft + S * topLeft;
  const right = S * bottomRight + S * topRight;
  return S * right + S * left;
}

/** All four bands of the top-left `rows` x `cols` region (both even). */
export function haarForward(plane: Uint8Array, stride: number, rows: number, cols: number): HaarBands {
  const bands: HaarBands = {
    approximation: band(rows / 2, cols / 2),
    horizontal: band(rows / 2, cols / 2),
    vertical: band(rows / 2, cols / 2),
    diagonal: band(rows / 2, cols / 2),
  };
  let index = 0;
  for (let r = 0; r < rows; r += 2) {
    const top = r * stride;
    const bottom = top + stride;
    for (let c = 0; c < cols; c += 2, index++) {
      const tl = plane[top + c] ?? 0;
      const tr = plane[top + c + 1] ?? 0;
      const bl = plane[bottom + c] ?? 0;
      const br = plane[bottom + c + 1] ?? 0;
      // Pairs of rows: low and high pass of each column.
      const lowLeft = S * bl + S * tl;
      const lowRight = S * br + S * tr;
      const highLeft = -S * bl + S * tl;
      const highRight = -S * br + S * tr;
      // Then pairs of columns.
      bands.approximation.data[index] = S * lowRight + S * lowLeft;
      bands.vertical.data[index] = -S * lowRight + S * lowLeft;
      bands.horizontal.data[index] = S * highRight + S * highLeft;
      bands.diagonal.data[index] = -S * highRight + S * highLeft;
    }
  }
  return bands;
}

/**
 * Inverse transform into a float64 rows x cols plane: columns are rebuilt first, then rows, each
 * output starting from zero and adding the low-pass then the high-pass term like PyWavelets.
 */
export function haarInverse(bands: HaarBands): Float64Array {
  const { approximation, horizontal, vertical, diagonal } = bands;
  const cols = approximation.cols * 2;
  const out = new Float64Array(approximation.rows * 2 * cols);
  for (let k = 0, index = 0; k < approximation.rows; k++) {
    const top = 2 * k * cols;
    const bottom = top + cols;
    for (let m = 0; m < approximation.cols; m++, index++) {
      const a = approximation.data[index] ?? 0;
      const h = horizontal.data[index] ?? 0;
      const v = vertical.data[index] ?? 0;
      const d = diagonal.data[index] ?? 0;
      // Along columns: low band from (cA, cV), high band from (cH, cD).
      const lowLeft = 0 + S * a + S * v;
      const lowRight = 0 + S * a + -S * v;
      const highLeft = 0 + S * h + S * d;
      const highRight = 0 + S * h + -S * d;
      // Along rows.
      out[top + 2 * m] = 0 + S * lowLeft + S * highLeft;
      out[bottom + 2 * m] = 0 + S * lowLeft + -S * highLeft;
      out[top + 2 * m + 1] = 0 + S * lowRight + S * highRight;
      out[bottom + 2 * m + 1] = 0 + S * lowRight + -S * highRight;
    }
  }
  return out;
}
