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
 * 2. verify: the block is read back as a decoder reads the output (each cell's value is computed
 *    from the RGB its edit wrote, so only the block's own cells are read);
 * 3. correct: blocks that did not take (rounding, saturated pixels, ties) are re-embedded from
 *    their input by an exact search whose every step is a trial of the real pixels. Cheap
 *    corrections are made at once; dear ones (flat saturated areas where many coefficients must
 *    move) only until 3/4 of each bit's blocks carry it, which keeps the majority vote safe
 *    without spending the image's quality;
 * 4. prove: every written cell is read again from the output's RGB and the blocks decoded as the
 *    reference decoder would, and the bit errors reported.
 * Blocks share no cells and every search starts from the input, so steps 1-3 run block by block,
 * allocating nothing per block or per trial; a uniform block (every carrying cell alike) like one
 * already done repeats its changes rather than searching again.
 */
import { blockCells, POSITIONS, readsRobustly } from './block-remedies.js';
import { CellEditor } from './cell-editor.js';
import { applyChanges, BlockScratch } from './correction.js';
import { DearPlans } from './dear-plans.js';
import { assertImageSize, layoutOf, MIN_PIXELS, readBlockBits, readoutOf, voteBits } from './dwt-dct.js';
import { DEFAULT_WATERMARK_TEXT, payloadBits } from './payload.js';
import { UniformOutcomes } from './uniform-outcomes.js';

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

  const editor = new CellEditor(rgb, width, layout);
  const cells = new Int32Array(POSITIONS);
  const scratch = new BlockScratch();
  const uniform = new UniformOutcomes();

  // Aim each block, read it back as a decoder would and re-embed it when it did not take and that
  // is cheap. Blocks share no cells, so each is done before the next.
  const held = new Uint32Array(bits.length);
  const carriers = new Uint32Array(bits.length);
  const dear: number[] = [];
  let corrections = 0;
  for (let block = 0; block < layout.blocks; block++) {
    const index = block % bits.length;
    const bit = bits[index] ?? 0;
    carriers[index] = (carriers[index] ?? 0) + 1;
    blockCells(editor.band, layout, block, cells);
    if (!readsRobustly(scratch.gatherInput(editor, cells), bit)) {
      const pass = uniform.firstPass(editor, cells, bit, scratch);
      if (pass === 'dear') {
        dear.push(block);
        continue;
      }
      if (pass === 'corrected') corrections++;
    }
    held[index] = (held[index] ?? 0) + 1;
  }

  // Dear corrections (flat saturated areas, where every coefficient of a block must move) are
  // made, cheapest first, only for bits whose vote is not yet safe. Other blocks that did not
  // take go back to the input rather than keep a first pass that failed.
  const plans = new DearPlans(dear.length);
  for (const block of dear) {
    const index = block % bits.length;
    if ((held[index] ?? 0) >= SAFE_VOTE_SHARE * (carriers[index] ?? 0)) continue;
    blockCells(editor.band, layout, block, cells);
    scratch.gatherInput(editor, cells);
    const error = uniform.plan(editor, cells, bits[index] ?? 0, scratch);
    if (error !== null) plans.add(block, error, scratch.best);
  }
  const applied = new Uint8Array(layout.blocks);
  for (const plan of plans.cheapestFirst()) {
    const block = plans.blockOf(plan);
    const index = block % bits.length;
    if ((held[index] ?? 0) >= SAFE_VOTE_SHARE * (carriers[index] ?? 0)) continue;
    blockCells(editor.band, layout, block, cells);
    applyChanges(editor, cells, plans.changesOf(plan, scratch.tried));
    applied[block] = 1;
    held[index] = (held[index] ?? 0) + 1;
    corrections++;
  }
  for (const block of dear) {
    if (applied[block] === 1) continue;
    blockCells(editor.band, layout, block, cells);
    applyChanges(editor, cells, null);
  }

  // The proof: every written cell is read again from the output's RGB (the others hold the
  // input's pixels, which the input band was read from), and the blocks are decoded from that as
  // the reference decoder would.
  const { output } = editor;
  editor.rereadWritten();
  const readout = readoutOf(voteBits(readBlockBits(editor.band, layout), bits.length), bits);
  return {
    rgb: output,
    watermarked: true,
    bitErrors: readout.bitErrors,
    psnr: peakSignalToNoise(editor.totalError(), rgb.length),
    corrections,
  };
}
