/**
 * The grid posted for a job: its images side by side, two per row, in index order (image 1 top
 * left, 2 top right, 3 bottom left, 4 bottom right), which is what the U1-U4 / V1-V4 buttons number.
 * One image is posted as it is; two make one row; three leave the last cell dark.
 */
import sharp from 'sharp';
import { LIMITS, SdbotError } from '@sdbot/shared';

/** Colour of an empty cell (three images): Discord's dark background, so it reads as no picture. */
const EMPTY_CELL = { r: 43, g: 45, b: 49 };

export interface GridImage {
  /** PNG. */
  data: Buffer;
  width: number;
  height: number;
  columns: number;
  rows: number;
}

/** Top-left corner of tile `index` in a grid of `width` x `height` tiles. */
export function tileOrigin(index: number, width: number, height: number): { left: number; top: number } {
  return { left: (index % 2) * width, top: Math.floor(index / 2) * height };
}

export async function composeGrid(images: readonly Buffer[]): Promise<GridImage> {
  if (images.length < LIMITS.count.min || images.length > LIMITS.count.max) {
    throw new SdbotError('INTERNAL', `a grid holds 1 to ${LIMITS.count.max} images, not ${images.length}`);
  }
  const sizes = await Promise.all(
    images.map(async (image, index) => {
      try {
        const { width, height } = await sharp(image).metadata();
        return { width, height };
      } catch (cause) {
        throw new SdbotError('IMAGE_INVALID', `image ${index + 1} of the grid cannot be read`, { cause });
      }
    }),
  );
  const [first] = sizes;
  const only = images[0];
  if (first === undefined || only === undefined) throw new SdbotError('INTERNAL', 'a grid needs an image');
  sizes.forEach((size, index) => {
    if (size.width !== first.width || size.height !== first.height) {
      throw new SdbotError(
        'IMAGE_INVALID',
        `image ${index + 1} is ${size.width}x${size.height}; every image of a grid must be ${first.width}x${first.height}`,
      );
    }
  });
  if (images.length === 1)
    return { data: only, width: first.width, height: first.height, columns: 1, rows: 1 };

  const columns = 2;
  const rows = Math.ceil(images.length / columns);
  const data = await sharp({
    create: {
      width: first.width * columns,
      height: first.height * rows,
      channels: 3,
      background: EMPTY_CELL,
    },
  })
    .composite(images.map((input, index) => ({ input, ...tileOrigin(index, first.width, first.height) })))
    .png()
    .toBuffer();
  return { data, width: first.width * columns, height: first.height * rows, columns, rows };
}
