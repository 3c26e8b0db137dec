/**
 * Finds the A1111 `parameters` text inside an image: a PNG `parameters` text chunk (tEXt, zTXt or
 * iTXt), or, for a JPEG or WebP (what an image becomes after re-encoding, e.g. A1111's own JPEG and
 * WebP saving), the EXIF UserComment or an XMP UserComment/parameters entry. sharp (already the
 * bot's image library) hands over the PNG text and the raw EXIF and XMP blocks; the few fields
 * needed are read here.
 */
import sharp, { type Metadata } from 'sharp';

export const PARAMETERS_KEYWORD = 'parameters';

const EXIF_IFD_POINTER = 0x8769;
const USER_COMMENT = 0x9286;
const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8 };

/** A TIFF structure (EXIF after its "Exif\0\0" header) read with bounds checks. */
class Tiff {
  private constructor(
    private readonly bytes: Buffer,
    private readonly little: boolean,
  ) {}

  static of(exif: Buffer): Tiff | undefined {
    const start = exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? 6 : 0;
    const bytes = exif.subarray(start);
    if (bytes.length < 8) return undefined;
    const order = bytes.toString('latin1', 0, 2);
    if (order !== 'II' && order !== 'MM') return undefined;
    return new Tiff(bytes, order === 'II');
  }

  u16(offset: number): number | undefined {
    if (offset < 0 || offset + 2 > this.bytes.length) return undefined;
    return this.little ? this.bytes.readUInt16LE(offset) : this.bytes.readUInt16BE(offset);
  }

  u32(offset: number): number | undefined {
    if (offset < 0 || offset + 4 > this.bytes.length) return undefined;
    return this.little ? this.bytes.readUInt32LE(offset) : this.bytes.readUInt32BE(offset);
  }

  get firstIfd(): number | undefined {
    return this.u32(4);
  }

  /** The bytes of a tag's value in the IFD at `ifd`. */
  value(ifd: number, tag: number): Buffer | undefined {
    const count = this.u16(ifd);
    if (count === undefined) return undefined;
    for (let index = 0; index < count; index++) {
      const entry = ifd + 2 + index * 12;
      if (this.u16(entry) !== tag) continue;
      const size = (TYPE_SIZES[this.u16(entry + 2) ?? 0] ?? 1) * (this.u32(entry + 4) ?? 0);
      const at = size <= 4 ? entry + 8 : this.u32(entry + 8);
      if (at === undefined || at + size > this.bytes.length) return undefined;
      return this.bytes.subarray(at, at + size);
    }
    return undefined;
  }

  pointer(ifd: number, tag: number): number | undefined {
    const value = this.value(ifd, tag);
    if (value?.length !== 4) return undefined;
    return this.little ? value.readUInt32LE(0) : value.readUInt32BE(0);
  }
}

/** UserComment: an 8-byte character code, then the text (UNICODE is UTF-16, usually big-endian). */
function decodeUserComment(value: Buffer): string | undefined {
  const code = value.toString('latin1', 0, 8).replace(/\0+$/, '');
  const body = value.subarray(8);
  let text: string;
  if (code === 'UNICODE') {
    const littleEndian = body.length >= 2 && body[0] !== 0 && body[1] === 0;
    const swapped = Buffer.from(body.subarray(0, body.length - (body.length % 2)));
    if (!littleEndian) swapped.swap16();
    text = swapped.toString('utf16le');
  } else if (code === 'ASCII' || code === '') {
    text = body.toString('utf8');
  } else {
    return undefined;
  }
  const clean = text.replace(/\0+$/, '').trim();
  return clean === '' ? undefined : clean;
}

export function exifUserComment(exif: Buffer): string | undefined {
  const tiff = Tiff.of(exif);
  const ifd0 = tiff?.firstIfd;
  if (tiff === undefined || ifd0 === undefined) return undefined;
  const exifIfd = tiff.pointer(ifd0, EXIF_IFD_POINTER);
  const value = exifIfd === undefined ? undefined : tiff.value(exifIfd, USER_COMMENT);
  return value === undefined ? undefined : decodeUserComment(value);
}

function decodeXmlText(text: string): string {
  return text
    .replace(/<[^>]*>/g, '')
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, decimal: string) => String.fromCodePoint(Number(decimal)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** exif:UserComment (as an element, usually an rdf:Alt, or an attribute) or a `parameters` entry. */
export function xmpParameters(xmp: string): string | undefined {
  const patterns = [
    /<(?:\w+:)?(?:UserComment|parameters)\b[^>]*>([\s\S]*?)<\/(?:\w+:)?(?:UserComment|parameters)>/,
    /\s(?:\w+:)?(?:UserComment|parameters)="([^"]*)"/,
  ];
  for (const pattern of patterns) {
    const found = pattern.exec(xmp)?.[1];
    if (found === undefined) continue;
    const text = decodeXmlText(found).trim();
    if (text !== '') return text;
  }
  return undefined;
}

/** The image's parameters text, or undefined when it has none (or is not an image sharp reads). */
export async function readEmbeddedParameters(
  bytes: Buffer,
  maxInputPixels: number,
): Promise<string | undefined> {
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: maxInputPixels }).metadata();
  } catch {
    return undefined;
  }
  const comment = metadata.comments?.find((entry) => entry.keyword === PARAMETERS_KEYWORD)?.text;
  if (comment !== undefined && comment.trim() !== '') return comment;
  const fromExif = metadata.exif === undefined ? undefined : exifUserComment(metadata.exif);
  if (fromExif !== undefined) return fromExif;
  return metadata.xmp === undefined ? undefined : xmpParameters(metadata.xmp.toString('utf8'));
}
