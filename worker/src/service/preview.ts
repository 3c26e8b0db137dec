/**
 * Progress previews without the VAE: SD 1.x latents map to RGB almost linearly, so a 4x3 matrix
 * (the widely used "latent to RGB" approximation) gives a recognisable thumbnail for the cost of
 * a few multiplications per latent pixel.
 */
import sharp from 'sharp';

/** Rows: latent channels 0..3; columns: red, green, blue contributions. */
const SD1_LATENT_TO_RGB = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
] as const;

/** RGB pixels (latentWidth x latentHeight) from the first image's NCHW latents. */
export function latentsToRgb(latents: Float32Array, latentWidth: number, latentHeight: number): Uint8Array {
  const plane = latentWidth * latentHeight;
  if (latents.length < 4 * plane) {
    throw new RangeError(`latents hold ${latents.length} values, expected at least ${4 * plane}`);
  }
  const rgb = new Uint8Array(plane * 3);
  for (let pixel = 0; pixel < plane; pixel += 1) {
    for (let colour = 0; colour < 3; colour += 1) {
      let value = 0;
      for (let channel = 0; channel < 4; channel += 1) {
        value += (latents[channel * plane + pixel] ?? 0) * (SD1_LATENT_TO_RGB[channel]?.[colour] ?? 0);
      }
      // The approximation lands in about -1..1, like decoded images before denormalising.
      rgb[pixel * 3 + colour] = Math.max(0, Math.min(255, Math.round(((value + 1) / 2) * 255)));
    }
  }
  return rgb;
}

/** A small PNG preview of a job of `width` x `height` pixels from its current latents. */
export async function previewPng(latents: Float32Array, width: number, height: number): Promise<Uint8Array> {
  const latentWidth = width / 8;
  const latentHeight = height / 8;
  const rgb = latentsToRgb(latents, latentWidth, latentHeight);
  const png = await sharp(rgb, { raw: { width: latentWidth, height: latentHeight, channels: 3 } })
    .resize({ width: Math.min(width, latentWidth * 2), kernel: 'nearest' })
    .png()
    .toBuffer();
  return new Uint8Array(png);
}
