/**
 * A "pixel bomb": a valid tiny PNG whose header claims a huge size. Decoding it whole would
 * allocate width x height x channels bytes; only reading the header is safe.
 */
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

export async function pixelBombPng(width: number, height: number): Promise<Buffer> {
  const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000000' } })
    .png()
    .toBuffer();
  // Signature (8 bytes), then IHDR: length (4), type (4), width (4), height (4), ..., CRC (4).
  const bomb = Buffer.from(png);
  bomb.writeUInt32BE(width, 16);
  bomb.writeUInt32BE(height, 20);
  bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
  return bomb;
}
