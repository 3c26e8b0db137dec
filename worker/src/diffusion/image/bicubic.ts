/**
 * Bicubic resize that reproduces Pillow's `Image.resize(size, Image.BICUBIC)` on 8-bit images bit
 * for bit: the reference safety checker sees pixels that transformers' CLIPImageProcessor resized
 * with PIL, and a flag decided near the threshold must come out the same here.
 *
 * Pillow's algorithm: separable convolution, horizontal pass first, with the Keys cubic (a = -0.5)
 * widened by the scale factor when shrinking, weights normalized per output pixel, converted to
 * fixed point with 22 fractional bits, each pass rounded and clipped to 8 bits.
 */

const PRECISION_BITS = 32 - 8 - 2;
const CUBIC_SUPPORT = 2;

function cubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

interface Coefficients {
  /** Per output pixel: first input index and how many inputs contribute. */
  first: Int32Array;
  count: Int32Array;
  /** Fixed-point weights, `kernelSize` slots per output pixel. */
  weights: Int32Array;
  kernelSize: number;
}

function computeCoefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = CUBIC_SUPPORT * filterScale;
  const inverseScale = 1 / filterScale;
  const kernelSize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * kernelSize);
  const raw = new Float64Array(kernelSize);
  for (let out = 0; out < outSize; out++) {
    const center = (out + 0.5) * scale;
    // C casts truncate toward zero, which is what Math.trunc does for the negative case too.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = cubic((x + xmin - center + 0.5) * inverseScale);
      raw[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const normalized = (total === 0 ? (raw[x] ?? 0) : (raw[x] ?? 0) / total) * (1 << PRECISION_BITS);
      weights[out * kernelSize + x] = Math.trunc(normalized < 0 ? normalized - 0.5 : normalized + 0.5);
    }
    first[out] = xmin;
    count[out] = xmax;
  }
  return { first, count, weights, kernelSize };
}

function clip8(accumulator: number): number {
  if (accumulator >= 1 << (PRECISION_BITS + 8)) return 255;
  if (accumulator <= 0) return 0;
  return accumulator >> PRECISION_BITS;
}

const ROUNDING = 1 << (PRECISION_BITS - 1);

function resizeHorizontal(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
): Uint8Array {
  const { first, count, weights, kernelSize } = computeCoefficients(width, outWidth);
  const out = new Uint8Array(outWidth * height * channels);
  for (let y = 0; y < height; y++) {
    const rowIn = y * width * channels;
    const rowOut = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      const start = first[x] ?? 0;
      const taps = count[x] ?? 0;
      const k = x * kernelSize;
      for (let c = 0; c < channels; c++) {
        let sum = ROUNDING;
        for (let i = 0; i < taps; i++) {
          sum += (pixels[rowIn + (start + i) * channels + c] ?? 0) * (weights[k + i] ?? 0);
        }
        out[rowOut + x * channels + c] = clip8(sum);
      }
    }
  }
  return out;
}

function resizeVertical(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outHeight: number,
): Uint8Array {
  const { first, count, weights, kernelSize } = computeCoefficients(height, outHeight);
  const stride = width * channels;
  const out = new Uint8Array(outHeight * stride);
  for (let y = 0; y < outHeight; y++) {
    const start = first[y] ?? 0;
    const taps = count[y] ?? 0;
    const k = y * kernelSize;
    for (let offset = 0; offset < stride; offset++) {
      let sum = ROUNDING;
      for (let i = 0; i < taps; i++)
        sum += (pixels[(start + i) * stride + offset] ?? 0) * (weights[k + i] ?? 0);
      out[y * stride + offset] = clip8(sum);
    }
  }
  return out;
}

export interface Image8 {
  /** Interleaved (HWC) 8-bit samples. */
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** Resizes an interleaved 8-bit image exactly as Pillow's BICUBIC filter does. */
export function resizeBicubic(image: Image8, outWidth: number, outHeight: number): Image8 {
  const { width, height, channels } = image;
  let pixels = image.pixels;
  if (outWidth !== width) pixels = resizeHorizontal(pixels, width, height, channels, outWidth);
  if (outHeight !== height) pixels = resizeVertical(pixels, outWidth, height, channels, outHeight);
  return { pixels, width: outWidth, height: outHeight, channels };
}
