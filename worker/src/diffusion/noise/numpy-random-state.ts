/**
 * numpy's legacy `RandomState(seed).randn`, which diffusers' ONNX pipelines draw their latents from.
 */
import { Mt19937 } from './mt19937.js';
import { assertCount, assertSeed } from './validation.js';

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

export class NumpyRandomState {
  private readonly engine: Mt19937;
  /** The polar method makes two normals at a time; numpy keeps the second for the next draw. */
  private hasCachedGaussian = false;
  private cachedGaussian = 0;

  constructor(seed: number) {
    assertSeed(seed);
    this.engine = new Mt19937(seed);
  }

  /** Uniform double in [0, 1) with 53 random bits from two 32-bit draws. */
  randomDouble(): number {
    const high = this.engine.nextUint32() >>> 5;
    const low = this.engine.nextUint32() >>> 6;
    return (high * TWO_POW_26 + low) / TWO_POW_53;
  }

  /** One standard normal by the legacy polar (Marsaglia) method. */
  gaussian(): number {
    if (this.hasCachedGaussian) {
      this.hasCachedGaussian = false;
      return this.cachedGaussian;
    }
    let x1: number;
    let x2: number;
    let r2: number;
    do {
      x1 = 2 * this.randomDouble() - 1;
      x2 = 2 * this.randomDouble() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const factor = Math.sqrt((-2 * Math.log(r2)) / r2);
    this.cachedGaussian = factor * x1;
    this.hasCachedGaussian = true;
    return factor * x2;
  }

  /** `count` standard normals in float64, row-major, exactly as `randn` returns them. */
  randn(count: number): Float64Array {
    assertCount(count);
    const values = new Float64Array(count);
    for (let i = 0; i < count; i++) values[i] = this.gaussian();
    return values;
  }
}
