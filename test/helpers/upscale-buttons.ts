/**
 * The button labels under an upscaled image, in layout order, as the unit and end-to-end upscale
 * tests expect them: with Upscale again while the image is under the server's cap, without at it.
 */
export const UPSCALED_BUTTONS = [
  'Upscale again',
  'Upscale (Creative)',
  'Vary (Subtle)',
  'Vary (Strong)',
  'Remix',
  'Delete',
] as const;

export const UPSCALED_AT_CAP_BUTTONS = UPSCALED_BUTTONS.filter((label) => label !== 'Upscale again');
