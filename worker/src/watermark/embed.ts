/**
 * A `dwtDct` embedder that the reference decoder reads back exactly. The reference embedder
 * quantises a float coefficient, then loses the change to uint8 truncation, the RGB round trip
 * and argmax flips, so most real images do not decode to their payload. Here every change is made
 * in whole U levels of real pixels (B and G shifted as OpenCV's inverse would, R kept) and judged
 * by what a decoder computes from the resulting RGB:
 * 1. aim: each block that does not already read its bit gets the remedy with the smallest error
 *    bound whose pixels have room to move: one coefficient (any of the fifteen) moved to the
 *    nearest value that reads the bit above all the others, or every coefficient above a zone
 *    lowered into it. Arithmetic only, one pixel pass;
 * 2. verify: every block is read back as a decoder reads the output;
 * 3. correct: blocks that did not take (rounding, saturated pixels, ties) are re-embedded from
 *    their input by an exact search whose every step is a trial of the real pixels. Cheap
 *    corrections are always made; dear ones (flat saturated areas where many coefficients must
 *    move) only until 3/4 of each bit's blocks carry it, which keeps the majority vote safe
 *    without spending the image's quality;
 * 4. prove: the output is decoded from scratch and its bit errors reported.
 */
import { blockCells, gather, POSITIONS, readsRobustly } from './block-remedies.js';
import { CellEditor } from './cell-editor.js';
import {
  aimBlock,
  applyEdits,
  BlockScratch,
  CHEAP_CORRECTION,
  planCorrection,
  type Correction,
} from './correction.js';
import {
  assertImageSize,
  blueChromaBand,
  layoutOf,
  MIN_PIXELS,
  readBlockBits,
  readoutOf,
  voteBits,
} from './dwt-dct.js';
import { DEFAULT_WATERMARK_TEXT, payloadBits } from './payload.js';

/** Share of each bit's blocks that must read it before dearer corrections are skipped. */
const SAFE_VOTE_SHARE = 0.75;

export interface EmbedResult {
  /** The watermarked RGB image (HWC, uint8); a copy of the input when not watermarked. */
  rgb: Uint8Array;
  watermarked: boolean;
  /** Why the image was left unmarked. */
  reason?: string;
  /** Payload bits the reference decoder reads wrong from `rgb` (all of them when not watermarked). */
  bitErrors: number;
  /** Peak signal-to-noise ratio of `rgb` against the input, in dB (Infinity when unchanged). */
  psnr: number;
  /** Blocks re-embedded because their first embedding did not read back. */
  corrections: number;
}

function peakSignalToNoise(squaredError: number, samples: number): number {
  return squaredError === 0
    ? Number.POSITIVE_INFINITY
    : 10 * Math.log10((255 * 255 * samples) / squaredError);
}

/**
 * Embeds `text` (default "StableDiffusionV1") into an RGB (HWC, uint8) image so that
 * invisible-watermark's `dwtDct` decoder reads it back exactly. Images under 256x256 pixels, or
 * with fewer blocks than payload bits, are returned unmarked with a reason.
 */
export function embedWatermark(
  rgb: Uint8Array,
  width: number,
  height: number,
  text: string = DEFAULT_WATERMARK_TEXT,
): EmbedResult {
  assertImageSize(rgb, width, height);
  const bits = payloadBits(text);
  const layout = layoutOf(width, height);
  const unmarked = (reason: string): EmbedResult => ({
    rgb: rgb.slice(),
    watermarked: false,
    reason,
    bitErrors: bits.length,
    psnr: Number.POSITIVE_INFINITY,
    corrections: 0,
  });
  if (width * height < MIN_PIXELS) {
    return unmarked(`image is ${width}x${height}: smaller than 256x256 pixels`);
  }
  if (layout.blocks < bits.length) {
    return unmarked(`image holds ${layout.blocks} blocks, fewer than the ${bits.length} payload bits`);
  }

  const editor = new CellEditor(rgb, width, blueChromaBand(rgb, width, layout));
  const cells = new Int32Array(POSITIONS);
  const values = new Float64Array(POSITIONS);
  const scratch = new BlockScratch();

  for (let block = 0; block < layout.blocks; block++) {
    const bit = bits[block % bits.length] ?? 0;
    blockCells(editor.band, layout, block, cells);
    if (!readsRobustly(gather(editor.band, cells, values), bit)) aimBlock(editor, cells, values, bit);
  }

  // Read every block back as a decoder would (the band holds what the output's RGB decodes to)
  // and re-embed the blocks that did not take, when that is cheap.
  const held = new Uint32Array(bits.length);
  const carriers = new Uint32Array(bits.length);
  const dear: number[] = [];
  let corrections = 0;
  for (let block = 0; block < layout.blocks; block++) {
    const index = block % bits.length;
    const bit = bits[index] ?? 0;
    carriers[index] = (carriers[index] ?? 0) + 1;
    blockCells(editor.band, layout, block, cells);
    const fix = readsRobustly(gather(editor.band, cells, values), bit)
      ? null
      : planCorrection(editor, cells, block, bit, scratch, CHEAP_CORRECTION);
    if (fix !== null) {
      applyEdits(editor, cells, fix.edits);
      corrections++;
    } else if (!readsRobustly(values, bit)) {
      dear.push(block);
      continue;
    }
    held[index] = (held[index] ?? 0) + 1;
  }

  // Dear corrections (flat saturated areas, where every coefficient of a block must move) are
  // made, cheapest first, only for bits whose vote is not yet safe. Other blocks that did not
  // take go back to the input rather than keep a first pass that failed.
  const plans: Correction[] = [];
  for (const block of dear) {
    const index = block % bits.length;
    if ((held[index] ?? 0) >= SAFE_VOTE_SHARE * (carriers[index] ?? 0)) continue;
    blockCells(editor.band, layout, block, cells);
    const plan = planCorrection(editor, cells, block, bits[index] ?? 0, scratch);
    if (plan !== null) plans.push(plan);
  }
  const applied = new Set<number>();
  for (const { block, edits } of plans.sort((a, b) => a.error - b.error)) {
    const index = block % bits.length;
    if ((held[index] ?? 0) >= SAFE_VOTE_SHARE * (carriers[index] ?? 0)) continue;
    blockCells(editor.band, layout, block, cells);
    applyEdits(editor, cells, edits);
    applied.add(block);
    held[index] = (held[index] ?? 0) + 1;
    corrections++;
  }
  for (const block of dear) {
    if (applied.has(block)) continue;
    blockCells(editor.band, layout, block, cells);
    applyEdits(editor, cells, []);
  }

  // The proof: decode the output from scratch, as the reference decoder would.
  const { output } = editor;
  const readout = readoutOf(
    voteBits(readBlockBits(blueChromaBand(output, width, layout), layout), bits.length),
    bits,
  );
  return {
    rgb: output,
    watermarked: true,
    bitErrors: readout.bitErrors,
    psnr: peakSignalToNoise(editor.totalError(), rgb.length),
    corrections,
  };
}
