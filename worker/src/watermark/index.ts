/**
 * The invisible watermark of CompVis txt2img (invisible-watermark `dwtDct`, "StableDiffusionV1"):
 * a decoder identical to the reference, the reference embedder reproduced bit for bit, and the
 * embedder the worker uses, whose output the reference decoder reads back exactly.
 */
export { detectWatermark, MIN_PIXELS, type WatermarkReadout } from './dwt-dct.js';
export { embedWatermark, type EmbedResult } from './embed.js';
export { embedWatermarkReference } from './reference-embed.js';
export { DEFAULT_WATERMARK_TEXT } from './payload.js';
