/**
 * 8-bit RGB pixels as a PNG, in this thread: every row with the "sub" filter (which suits the
 * simulated worker's gradients) and zlib's fastest level with its default strategy. The bytes are
 * those pngjs writes with the same choices; pngjs builds a stream parser and packer for every image,
 * which cost twice what the compression does at 64x64, where a simulated job should cost next to
 * nothing.
 */
import { crc32, deflateSync } from 'node:zlib';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const FILTER_SUB = 1;
const BYTES_PER_PIXEL = 3;

/** A chunk: length, type, data, and the CRC of type and data. */
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export function encodeRgbPng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  const stride = width * BYTES_PER_PIXEL;
  if (pixels.length !== stride * height) {
    throw new RangeError(`${pixels.length} bytes are not ${width}x${height} RGB pixels`);
  }
  const rows = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y += 1) {
    const from = y * stride;
    const to = y * (stride + 1);
    rows[to] = FILTER_SUB;
    for (let index = 0; index < stride; index += 1) {
      const left = index < BYTES_PER_PIXEL ? 0 : (pixels[from + index - BYTES_PER_PIXEL] ?? 0);
      rows[to + 1 + index] = ((pixels[from + index] ?? 0) - left) & 0xff;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // colour type: RGB
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 1 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
