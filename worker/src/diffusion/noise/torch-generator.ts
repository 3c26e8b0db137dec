/**
 * torch's CPU `randn(n, generator=torch.Generator().manual_seed(seed))` in float32, which diffusers'
 * PyTorch pipelines and most UIs draw their latents from. Two code paths, as in ATen's CPU normal
 * kernel: tensors of 16 or more elements use a vectorised Box-Muller over float uniforms in blocks
 * of 16; smaller ones draw each value in double precision through the generator's cache.
 *
 * The block path follows the AVX2 kernel that x86 builds run. Builds without it (ARM, e.g. Apple
 * silicon) use libm's log/sin/cos there instead, so their values differ in the last bits (~1e-6).
 */
import { logFloat32, sinCosFloat32 } from './float32-math.js';
import { Mt19937 } from './mt19937.js';
import { assertCount, assertSeed } from './validation.js';

const BLOCK = 16;
const HALF_BLOCK = 8;
const TWO_POW_24 = 16777216;
const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;
const TWO_PI = 2 * Math.PI;
const TWO_PI_FLOAT = Math.fround(TWO_PI);
const fround = Math.fround;

export class TorchGenerator {
  private readonly engine: Mt19937;
  /** Box-Muller yields two values; the scalar path keeps the sine one for the next draw. */
  private hasCachedNormal = false;
  private cachedNormal = 0;

  constructor(seed: number) {
    assertSeed(seed);
    this.engine = new Mt19937(seed);
  }

  /** `count` standard normals as float32, advancing the generator as one `torch.randn` call does. */
  randn(count: number): Float32Array {
    assertCount(count);
    const values = new Float32Array(count);
    if (count >= BLOCK) {
      this.fillBlocks(values);
    } else {
      for (let i = 0; i < count; i++) values[i] = this.doubleNormal();
    }
    return values;
  }

  /** Uniform float in [0, 1) from the low 24 bits of one draw (exact in float32). */
  private uniformFloat(): number {
    return (this.engine.nextUint32() & 0xffffff) / TWO_POW_24;
  }

  /** Uniform double in [0, 1) from the low 53 bits of a 64-bit value made of two draws, high first. */
  private uniformDouble(): number {
    const high = this.engine.nextUint32() & 0x1fffff;
    const low = this.engine.nextUint32();
    return (high * TWO_POW_32 + low) / TWO_POW_53;
  }

  private doubleNormal(): number {
    if (this.hasCachedNormal) {
      this.hasCachedNormal = false;
      return this.cachedNormal;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const radius = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = TWO_PI * u1;
    this.cachedNormal = radius * Math.sin(theta);
    this.hasCachedNormal = true;
    return radius * Math.cos(theta);
  }

  /**
   * All uniforms are drawn first; then each block of 16 becomes 16 normals. A tail shorter than a
   * block is handled by drawing 16 fresh uniforms over the LAST 16 slots and transforming those,
   * which overwrites part of the previous block: torch does exactly this.
   */
  private fillBlocks(values: Float32Array): void {
    const count = values.length;
    for (let i = 0; i < count; i++) values[i] = this.uniformFloat();
    for (let start = 0; start + BLOCK <= count; start += BLOCK) boxMullerBlock(values, start);
    if (count % BLOCK !== 0) {
      const start = count - BLOCK;
      for (let i = start; i < count; i++) values[i] = this.uniformFloat();
      boxMullerBlock(values, start);
    }
  }
}

const sinCos = new Float64Array(2);

/**
 * In-place float32 Box-Muller on 16 uniforms: element j pairs with j + 8 (cosine, sine). This is
 * torch's AVX2 kernel (what x86 builds run), lane by lane: float32 2*pi, float32 products, and its
 * own log and sincos approximations.
 */
function boxMullerBlock(values: Float32Array, start: number): void {
  for (let j = start; j < start + HALF_BLOCK; j++) {
    // 1 - u maps [0, 1) to (0, 1] so the logarithm stays finite.
    const u1 = fround(1 - (values[j] ?? 0));
    const u2 = values[j + HALF_BLOCK] ?? 0;
    const radius = fround(Math.sqrt(fround(-2 * logFloat32(u1))));
    sinCosFloat32(fround(TWO_PI_FLOAT * u2), sinCos);
    values[j] = radius * (sinCos[1] ?? 0);
    values[j + HALF_BLOCK] = radius * (sinCos[0] ?? 0);
  }
}
