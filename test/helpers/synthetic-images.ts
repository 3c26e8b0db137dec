/**
 * Photo-like RGB test images built in code: what a Stable Diffusion output looks like to the
 * watermark (smooth skies, textured ground, flat fills, saturated colours, crushed shadows and
 * blown highlights), reproducible from a seed.
 */

/** Small deterministic PRNG (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fractal value noise in [0, 1] on a width x height grid. */
function valueNoise(
  width: number,
  height: number,
  random: () => number,
  octaves: number,
  cell: number,
): Float32Array {
  const out = new Float32Array(width * height);
  let amplitude = 1;
  let total = 0;
  for (let octave = 0, size = cell; octave < octaves; octave++, size = Math.max(1, size / 2)) {
    const gridW = Math.ceil(width / size) + 2;
    const grid = Float32Array.from({ length: gridW * (Math.ceil(height / size) + 2) }, random);
    for (let y = 0; y < height; y++) {
      const y0 = Math.floor(y / size);
      const fy = y / size - y0;
      const sy = fy * fy * (3 - 2 * fy);
      for (let x = 0; x < width; x++) {
        const x0 = Math.floor(x / size);
        const fx = x / size - x0;
        const sx = fx * fx * (3 - 2 * fx);
        const i = y0 * gridW + x0;
        const a = grid[i] ?? 0;
        const b = grid[i + 1] ?? 0;
        const c = grid[i + gridW] ?? 0;
        const d = grid[i + gridW + 1] ?? 0;
        const top = a + (b - a) * sx;
        const value = top + (c + (d - c) * sx - top) * sy;
        out[y * width + x] = (out[y * width + x] ?? 0) + amplitude * value;
      }
    }
    total += amplitude;
    amplitude /= 2;
  }
  return out.map((value) => value / total);
}

export type PhotoScene = 'landscape' | 'portrait' | 'night' | 'poster';

function clampByte(value: number): number {
  return Math.max(0, Math.min(255, Math.round(value)));
}

/**
 * A photo-like scene: 'landscape' (sky gradient, blown-out sun, textured hills, a flat sea),
 * 'portrait' (soft skin-toned subject on a blurred backdrop, dark hair, white highlights),
 * 'night' (near-black sky with stars and a saturated neon sign), 'poster' (flat saturated fills,
 * hard edges, pure black and white text-like bars).
 */
export function photoLikeImage(width: number, height: number, scene: PhotoScene, seed = 1): Uint8Array {
  const random = seededRandom(seed);
  const texture = valueNoise(width, height, random, 5, 64);
  const grain = valueNoise(width, height, random, 2, 3);
  const rgb = new Uint8Array(width * height * 3);
  const put = (x: number, y: number, r: number, g: number, b: number): void => {
    const at = (y * width + x) * 3;
    rgb[at] = clampByte(r);
    rgb[at + 1] = clampByte(g);
    rgb[at + 2] = clampByte(b);
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = texture[y * width + x] ?? 0;
      const n = (grain[y * width + x] ?? 0) - 0.5;
      const u = x / width;
      const v = y / height;
      switch (scene) {
        case 'landscape': {
          const horizon = 0.55 + 0.08 * Math.sin(u * 7) + 0.1 * (t - 0.5);
          const sun = Math.hypot(u - 0.75, v - 0.2);
          if (sun < 0.06) put(x, y, 255, 255, 250 + 5 * n);
          else if (v < horizon) put(x, y, 70 + 120 * v + 40 / (1 + 30 * sun), 130 + 90 * v, 250 - 10 * v);
          else if (u < 0.3) put(x, y, 20 + 40 * v, 60 + 30 * v, 140 + 20 * v);
          else put(x, y, 60 + 90 * t + 30 * n, 90 + 100 * t + 30 * n, 30 + 40 * t);
          break;
        }
        case 'portrait': {
          const face = Math.hypot((u - 0.5) / 0.6, v - 0.45);
          const hair = Math.hypot((u - 0.5) / 0.7, v - 0.35);
          if (face < 0.25) put(x, y, 225 + 20 * t, 180 + 20 * t + 8 * n, 150 + 15 * t);
          else if (hair < 0.33 && v < 0.45) put(x, y, 8 + 10 * t, 5 + 8 * t, 4 + 6 * t);
          else if (v > 0.8) put(x, y, 250 + 5 * n, 250 + 5 * n, 252);
          else put(x, y, 90 + 80 * t, 110 + 60 * t, 140 + 50 * t);
          break;
        }
        case 'night': {
          const star = random() < 0.002;
          const sign = u > 0.2 && u < 0.7 && v > 0.5 && v < 0.62;
          if (sign) put(x, y, 255, 20 + 30 * t, 200 + 55 * t);
          else if (star) put(x, y, 255, 255, 255);
          else if (v > 0.7) put(x, y, 15 + 25 * t, 12 + 20 * t, 10 + 15 * t);
          else put(x, y, 2 + 6 * t + 3 * n, 3 + 6 * t, 10 + 20 * v + 6 * t);
          break;
        }
        case 'poster': {
          const band = Math.floor(u * 6);
          const colours = [
            [255, 0, 0],
            [255, 255, 0],
            [0, 0, 255],
            [0, 255, 0],
            [255, 0, 255],
            [0, 255, 255],
          ] as const;
          const [r, g, b] = colours[band] ?? [0, 0, 0];
          if (v > 0.85) put(x, y, 0, 0, 0);
          else if (v > 0.75 && Math.floor(u * 40) % 3 === 0) put(x, y, 255, 255, 255);
          else if (v < 0.15) put(x, y, 128 + 127 * u, 128 + 127 * u, 128 + 127 * u);
          else put(x, y, r, g, b);
          break;
        }
      }
    }
  }
  return rgb;
}
