/**
 * Reads AUTOMATIC1111's "infotext", the `parameters` text images carry: prompt line(s), an optional
 * `Negative prompt:` part, then one line of `Key: value` pairs (`Steps: 20, Sampler: Euler a, ...`),
 * values that hold a comma, colon or newline written as JSON strings. Same rules as A1111's own
 * reader, so the worker's `formatParameters` and any A1111 image read back alike.
 */

export interface Infotext {
  prompt: string;
  negativePrompt: string;
  /** The `Key: value` pairs in order, quoted values unquoted. */
  fields: ReadonlyMap<string, string>;
}

/** One `Key: value` pair; the key starts with a word character, a quoted value may hold commas. */
const FIELD = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;
const NEGATIVE_PREFIX = 'Negative prompt:';

function unquote(value: string): string {
  if (!value.startsWith('"') || !value.endsWith('"') || value.length < 2) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'string' ? parsed : value;
  } catch {
    return value;
  }
}

function fieldsOf(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const match of line.matchAll(FIELD)) {
    const key = match[1]?.trim();
    if (key !== undefined && !fields.has(key)) fields.set(key, unquote((match[2] ?? '').trim()));
  }
  return fields;
}

export function parseInfotext(text: string): Infotext {
  const lines = text.trim().split('\n');
  // A1111 takes the last line as the settings only when it holds at least three pairs.
  const last = lines.at(-1) ?? '';
  const fields = fieldsOf(last);
  const hasFields = fields.size >= 3;
  if (hasFields) lines.pop();
  const prompt: string[] = [];
  const negative: string[] = [];
  let inNegative = false;
  for (const raw of lines) {
    let line = raw;
    if (line.trim().startsWith(NEGATIVE_PREFIX)) {
      inNegative = true;
      line = line.trim().slice(NEGATIVE_PREFIX.length).trim();
    }
    (inNegative ? negative : prompt).push(line);
  }
  return {
    prompt: prompt.join('\n').trim(),
    negativePrompt: negative.join('\n').trim(),
    fields: hasFields ? fields : new Map(),
  };
}

/** What "Show parameters" shows, from the infotext's fields by A1111's names. */
export interface ShownParameters {
  prompt: string;
  negativePrompt: string;
  seed: string | undefined;
  steps: string | undefined;
  sampler: string | undefined;
  guidance: string | undefined;
  size: string | undefined;
  model: string | undefined;
}

export function shownParameters(infotext: Infotext): ShownParameters {
  const field = (key: string) => {
    const value = infotext.fields.get(key);
    return value === undefined || value === '' ? undefined : value;
  };
  const model = field('Model');
  const hash = field('Model hash');
  return {
    prompt: infotext.prompt,
    negativePrompt: infotext.negativePrompt,
    seed: field('Seed'),
    steps: field('Steps'),
    sampler: field('Sampler'),
    guidance: field('CFG scale'),
    size: field('Size'),
    model: model !== undefined && hash !== undefined ? `${model} (${hash})` : (model ?? hash),
  };
}
