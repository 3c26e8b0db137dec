/**
 * Keeps a PNG's `parameters` text (A1111 infotext) when fit.ts re-encodes it as WebP or JPEG:
 * as EXIF UserComment, where A1111's PNG Info and image browsers read it (when the text is ASCII:
 * libvips writes UserComment as ASCII only), and always as XMP `exif:UserComment`, which keeps any
 * UTF-8 intact.
 */
import type { Sharp } from 'sharp';
import sharp from 'sharp';

const PARAMETERS_KEYWORD = 'parameters';

/** The `parameters` text chunk of a PNG, or null when it has none. */
export async function pngParameters(png: Buffer): Promise<string | null> {
  const { comments } = await sharp(png).metadata();
  return comments?.find((comment) => comment.keyword === PARAMETERS_KEYWORD)?.text ?? null;
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\r?\n/g, '&#10;');
}

function unescapeXml(text: string): string {
  return text
    .replace(/&#10;/g, '\n')
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&quot;/g, '"')
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&amp;/g, '&');
}

export function parametersXmp(parameters: string): string {
  return (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/"><exif:UserComment><rdf:Alt>' +
    `<rdf:li xml:lang="x-default">${escapeXml(parameters)}</rdf:li>` +
    '</rdf:Alt></exif:UserComment></rdf:Description></rdf:RDF></x:xmpmeta>'
  );
}

// Printable ASCII plus newline and tab: what an ASCII UserComment carries without loss.
const ASCII_TEXT = /^[\x20-\x7e\n\t]*$/;

/** The encoder with the parameters attached as EXIF UserComment (ASCII) and XMP. */
export function withParameters(image: Sharp, parameters: string | null): Sharp {
  if (parameters === null) return image;
  const withXmp = image.withXmp(parametersXmp(parameters));
  return ASCII_TEXT.test(parameters) ? withXmp.withExif({ IFD2: { UserComment: parameters } }) : withXmp;
}

/** The parameters text a re-encoded image carries in its XMP, or null. */
export async function reencodedParameters(image: Buffer): Promise<string | null> {
  const { xmp } = await sharp(image).metadata();
  if (xmp === undefined) return null;
  const match = /<exif:UserComment>\s*<rdf:Alt>\s*<rdf:li[^>]*>([\s\S]*?)<\/rdf:li>/.exec(
    xmp.toString('utf8'),
  );
  return match?.[1] === undefined ? null : unescapeXml(match[1]);
}
