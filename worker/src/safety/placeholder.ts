/**
 * What the product shows instead of an image the safety checker flagged. It is built from the
 * image's size alone: the flagged pixels never reach this module, so nothing of them can leak
 * through a blur, a thumbnail or a colour average.
 */
import sharp from 'sharp';
import { LIMITS, rangeText, ValidationError } from '@sdbot/shared';

/** The word on the placeholder. */
const FILTERED_LABEL = 'filtered';

/**
 * Stroke outlines of the label's letters on a 4 x 6 grid (x right, y down), for systems where
 * librsvg finds no font and SVG text renders nothing.
 */
const STROKE_GLYPHS: Record<string, readonly string[]> = {
  F: ['M4 0 L0 0 L0 6', 'M0 3 L3 3'],
  I: ['M1 0 L3 0', 'M2 0 L2 6', 'M1 6 L3 6'],
  L: ['M0 0 L0 6 L4 6'],
  T: ['M0 0 L4 0', 'M2 0 L2 6'],
  E: ['M4 0 L0 0 L0 6 L4 6', 'M0 3 L3 3'],
  R: ['M0 6 L0 0 L3 0 L4 1 L4 2 L3 3 L0 3', 'M2 3 L4 6'],
  D: ['M0 0 L0 6 L3 6 L4 5 L4 1 L3 0 Z'],
};

function assertSize(width: number, height: number): void {
  const range = { min: 1, max: LIMITS.size.max };
  const issues = Object.entries({ width, height })
    .filter(([, value]) => !Number.isInteger(value) || value < range.min || value > range.max)
    .map(([field, value]) => ({
      field,
      message: `${String(value)} is not a whole number of pixels in ${rangeText(range)}`,
    }));
  if (issues.length > 0) throw new ValidationError(issues);
}

/** A dark, soft abstract backdrop: blurred colour fields placed from the size alone. */
function backdropSvg(width: number, height: number): string {
  const fields = [
    { x: 0.22, y: 0.3, r: 0.55, colour: '#3a4a6b' },
    { x: 0.8, y: 0.25, r: 0.45, colour: '#5b3f5e' },
    { x: 0.55, y: 0.85, r: 0.6, colour: '#2f5a55' },
  ];
  const size = Math.max(width, height);
  const circles = fields
    .map(
      ({ x, y, r, colour }) =>
        `<circle cx="${(x * width).toFixed(1)}" cy="${(y * height).toFixed(1)}" r="${(r * size).toFixed(1)}" fill="${colour}" fill-opacity="0.8"/>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#1c2230"/>${circles}</svg>`;
}

interface LabelGeometry {
  /** Height of the letters in pixels. */
  size: number;
  centerX: number;
  centerY: number;
}

function labelGeometry(width: number, height: number): LabelGeometry {
  const size = Math.max(8, Math.round(Math.min(width / (FILTERED_LABEL.length * 0.75), height / 5)));
  return { size, centerX: width / 2, centerY: height / 2 };
}

/** The label as SVG text; renders nothing when no font is installed. */
export function textLabelSvg(width: number, height: number): string {
  const { size, centerX, centerY } = labelGeometry(width, height);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><text x="${centerX}" y="${centerY}" font-family="DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif" font-size="${size}" font-weight="bold" fill="#f2f2f2" text-anchor="middle" dominant-baseline="central" letter-spacing="${(size * 0.05).toFixed(1)}">${FILTERED_LABEL}</text></svg>`;
}

/** The label drawn with strokes (upper case), needing no font. */
export function drawnLabelSvg(width: number, height: number): string {
  const { size, centerX, centerY } = labelGeometry(width, height);
  const letters = FILTERED_LABEL.toUpperCase().split('');
  // Six grid units per letter (four for the glyph, two of spacing), within 90% of the width.
  const unit = Math.min((size * 0.8) / 6, (width * 0.9) / (letters.length * 6));
  const advance = 6 * unit;
  const left = centerX - (letters.length * advance - 2 * unit) / 2;
  const top = centerY - 3 * unit;
  const paths = letters
    .flatMap((letter, index) =>
      (STROKE_GLYPHS[letter] ?? []).map(
        (path) =>
          `<path transform="translate(${(left + index * advance).toFixed(2)} ${top.toFixed(2)}) scale(${unit.toFixed(3)})" d="${path}"/>`,
      ),
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g fill="none" stroke="#f2f2f2" stroke-width="${(1.1).toFixed(1)}" stroke-linecap="round" stroke-linejoin="round" vector-effect="non-scaling-stroke">${paths}</g></svg>`;
}

/** Pixels with any coverage in a rendered RGBA layer. */
async function inkOf(layer: Buffer): Promise<number> {
  const { data } = await sharp(layer)
    .ensureAlpha()
    .extractChannel(3)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data.reduce((count, alpha) => count + (alpha > 0 ? 1 : 0), 0);
}

/** The label layer: SVG text when a font renders it, otherwise the drawn letters. */
async function labelLayer(width: number, height: number): Promise<Buffer> {
  const text = await sharp(Buffer.from(textLabelSvg(width, height)))
    .png()
    .toBuffer();
  if ((await inkOf(text)) > 0) return text;
  return sharp(Buffer.from(drawnLabelSvg(width, height)))
    .png()
    .toBuffer();
}

/** A dark band behind the label, and a "no entry" sign above it, drawn with shapes. */
function frameSvg(width: number, height: number): string {
  const { size, centerX, centerY } = labelGeometry(width, height);
  const bandHeight = size * 1.8;
  const sign = Math.min(size * 0.9, centerY - bandHeight / 2 - 4);
  const signY = centerY - bandHeight / 2 - sign * 0.7;
  const stroke = Math.max(1.5, sign * 0.12);
  const signSvg =
    sign > 6
      ? `<circle cx="${centerX}" cy="${signY.toFixed(1)}" r="${(sign / 2).toFixed(1)}" fill="none" stroke="#f2f2f2" stroke-width="${stroke.toFixed(1)}"/>` +
        `<line x1="${(centerX - sign * 0.35).toFixed(1)}" y1="${(signY + sign * 0.35).toFixed(1)}" x2="${(centerX + sign * 0.35).toFixed(1)}" y2="${(signY - sign * 0.35).toFixed(1)}" stroke="#f2f2f2" stroke-width="${stroke.toFixed(1)}"/>`
      : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect x="0" y="${(centerY - bandHeight / 2).toFixed(1)}" width="${width}" height="${bandHeight.toFixed(1)}" fill="#000000" fill-opacity="0.45"/>${signSvg}</svg>`;
}

/**
 * A PNG placeholder for a flagged image of this size: a blurred, darkened abstract backdrop with
 * a "filtered" label. Takes the size only, so the flagged image cannot influence it.
 */
export async function filteredPlaceholder(width: number, height: number): Promise<Buffer> {
  assertSize(width, height);
  const backdrop = await sharp(Buffer.from(backdropSvg(width, height)))
    .blur(Math.max(0.3, Math.min(width, height) / 12))
    .modulate({ brightness: 0.7 })
    .png()
    .toBuffer();
  return sharp(backdrop)
    .composite([{ input: Buffer.from(frameSvg(width, height)) }, { input: await labelLayer(width, height) }])
    .removeAlpha()
    .png()
    .toBuffer();
}
