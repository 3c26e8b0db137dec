/**
 * The CLIP byte-level BPE tokenizer of Stable Diffusion's text encoder, reproducing the reference
 * (`CLIPTokenizer` in transformers, itself OpenAI's `simple_tokenizer`) id for id.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LIMITS, SdbotError } from '@sdbot/shared';
import { htmlUnescape } from './html-unescape.js';

export interface TokenizedPrompt {
  /** Exactly `maxLength` ids: start, up to `maxLength - 2` prompt tokens, end, then padding. */
  inputIds: Int32Array;
  /** BPE tokens of the whole prompt, without start and end. */
  untruncatedLength: number;
  truncated: boolean;
  /** Prompt tokens that did not fit and were cut (0 when nothing was). */
  droppedTokens: number;
}

const START_TOKEN = '<|startoftext|>';
const END_TOKEN = '<|endoftext|>';
const END_OF_WORD = '</w>';
/** Words seen recently keep their merges; bounded because prompts come from anyone. */
const BPE_CACHE_LIMIT = 20_000;
const MAX_LENGTH_RANGE = { min: 3, max: 1024 };

const WHITESPACE_RUN = /\p{White_Space}+/gu;
// The reference's pre-tokenizer: special tokens, English contractions, letter runs, single
// digits, runs of everything else (whitespace excluded).
const PRE_TOKENIZER =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\p{White_Space}\p{L}\p{N}]+/giu;

/**
 * GPT-2's reversible byte-to-character table: printable Latin-1 bytes stand for themselves, the
 * others are moved to U+0100 and up, so every byte string is a string of visible characters.
 */
function buildByteTable(): { encoder: string[]; decoder: Map<string, number> } {
  const encoder: string[] = new Array<string>(256);
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable =
      (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    encoder[byte] = String.fromCharCode(printable ? byte : 256 + shifted++);
  }
  return { encoder, decoder: new Map(encoder.map((char, byte) => [char, byte])) };
}

const BYTE_TABLE = buildByteTable();
const UTF8 = new TextEncoder();

/** Python's `str.isspace` for one character: White_Space plus the separators U+001C..U+001F. */
function isPythonSpace(char: string): boolean {
  const code = char.charCodeAt(0);
  return (code >= 0x1c && code <= 0x1f) || /^\p{White_Space}$/u.test(char);
}

/** Python's `str.strip()`, which keeps U+FEFF (JS `trim` removes it). */
function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPythonSpace(text.charAt(start))) start++;
  while (end > start && isPythonSpace(text.charAt(end - 1))) end--;
  return text.slice(start, end);
}

/** NFC, HTML entities decoded twice, whitespace runs collapsed, stripped, lower-cased. */
function cleanPrompt(text: string): string {
  const unescaped = pythonStrip(htmlUnescape(htmlUnescape(text.normalize('NFC'))));
  return pythonStrip(unescaped.replace(WHITESPACE_RUN, ' ')).toLowerCase();
}

function modelError(file: string, problem: string, cause?: unknown): SdbotError {
  return new SdbotError('MODEL_INVALID', `tokenizer file ${file}: ${problem}`, { cause });
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw modelError(
      file,
      code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? String(error)})`,
      error,
    );
  }
}

async function readJson(file: string): Promise<unknown> {
  const text = await readText(file);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw modelError(file, `is not valid JSON (${(error as Error).message})`, error);
  }
}

/** Reads an optional JSON object; a missing file is `undefined`, a broken one is an error. */
async function readOptionalJsonObject(file: string): Promise<Record<string, unknown> | undefined> {
  let value: unknown;
  try {
    value = await readJson(file);
  } catch (error) {
    if (
      error instanceof SdbotError &&
      (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
    ) {
      return undefined;
    }
    throw error;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw modelError(file, 'must contain a JSON object');
  }
  return value as Record<string, unknown>;
}

async function assertDirectory(directory: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(directory)).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SdbotError(
      'MODEL_INVALID',
      `tokenizer directory ${directory} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(error)})`}`,
      { cause: error },
    );
  }
  if (!isDirectory)
    throw new SdbotError('MODEL_INVALID', `tokenizer directory ${directory} is not a directory`);
}

function parseVocabulary(file: string, value: unknown): Map<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw modelError(file, 'must map each token to its integer id');
  }
  const vocabulary = new Map<string, number>();
  for (const [token, id] of Object.entries(value)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
      throw modelError(
        file,
        `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not a non-negative integer`,
      );
    }
    vocabulary.set(token, id);
  }
  if (vocabulary.size === 0) throw modelError(file, 'is empty');
  return vocabulary;
}

/** Merge ranks keyed by `"left right"`; the rank is the line order after the `#version` header. */
function parseMerges(file: string, text: string): Map<string, number> {
  const ranks = new Map<string, number>();
  let rank = 0;
  text.split(/\r?\n/).forEach((line, index) => {
    if ((index === 0 && line.startsWith('#version')) || line.trim() === '') return;
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) {
      throw modelError(file, `line ${index + 1} is not a merge of two symbols: ${JSON.stringify(line)}`);
    }
    ranks.set(parts.join(' '), rank++);
  });
  if (ranks.size === 0) throw modelError(file, 'contains no merges');
  return ranks;
}

/** A special token is a string or, in newer exports, `{ "content": "...", ... }`. */
function specialToken(config: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = config?.[key];
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && 'content' in value) {
    if (typeof value.content === 'string') return value.content;
  }
  return undefined;
}

interface ClipTokenizerParts {
  vocabulary: Map<string, number>;
  mergeRanks: Map<string, number>;
  maxLength: number;
  startId: number;
  endId: number;
  padId: number;
  unknownId: number;
}

export class ClipTokenizer {
  readonly maxLength: number;
  /** Id the padding after the end token uses: the end token on SD 1.x, `!` (0) on SD 2.x. */
  readonly padId: number;
  private readonly vocabulary: Map<string, number>;
  /** Built on the first `decode`: encoding, the hot path, never needs it. */
  private tokensById: Map<number, string> | undefined;
  private readonly mergeRanks: Map<string, number>;
  readonly startId: number;
  readonly endId: number;
  private readonly unknownId: number;
  private readonly bpeCache = new Map<string, readonly string[]>();

  private constructor(parts: ClipTokenizerParts) {
    this.vocabulary = parts.vocabulary;
    this.mergeRanks = parts.mergeRanks;
    this.maxLength = parts.maxLength;
    this.startId = parts.startId;
    this.endId = parts.endId;
    this.padId = parts.padId;
    this.unknownId = parts.unknownId;
  }

  /**
   * Loads `vocab.json` and `merges.txt` (required) and the special tokens and length from
   * `tokenizer_config.json` / `special_tokens_map.json` (optional; the map wins, as in transformers).
   */
  static async fromDirectory(tokenizerDir: string): Promise<ClipTokenizer> {
    await assertDirectory(tokenizerDir);
    const vocabFile = join(tokenizerDir, 'vocab.json');
    const mergesFile = join(tokenizerDir, 'merges.txt');
    const configFile = join(tokenizerDir, 'tokenizer_config.json');
    const mapFile = join(tokenizerDir, 'special_tokens_map.json');
    const [vocabJson, mergesText, config, specialMap] = await Promise.all([
      readJson(vocabFile),
      readText(mergesFile),
      readOptionalJsonObject(configFile),
      readOptionalJsonObject(mapFile),
    ]);
    const vocabulary = parseVocabulary(vocabFile, vocabJson);
    const mergeRanks = parseMerges(mergesFile, mergesText);

    const maxLength = config?.model_max_length ?? LIMITS.tokenizerMaxLength;
    if (
      typeof maxLength !== 'number' ||
      !Number.isInteger(maxLength) ||
      maxLength < MAX_LENGTH_RANGE.min ||
      maxLength > MAX_LENGTH_RANGE.max
    ) {
      throw modelError(
        configFile,
        `model_max_length must be an integer in ${MAX_LENGTH_RANGE.min}..${MAX_LENGTH_RANGE.max}, got ${JSON.stringify(maxLength)}`,
      );
    }

    const idOf = (key: string, fallback: string): number => {
      const fromMap = specialToken(specialMap, key);
      const fromConfig = specialToken(config, key);
      const token = fromMap ?? fromConfig ?? fallback;
      const id = vocabulary.get(token);
      if (id !== undefined) return id;
      if (fromMap === undefined && fromConfig === undefined) {
        throw modelError(vocabFile, `lacks the default ${key} ${JSON.stringify(token)}`);
      }
      const source = fromMap === undefined ? configFile : mapFile;
      throw modelError(source, `${key} ${JSON.stringify(token)} is not in ${vocabFile}`);
    };
    return new ClipTokenizer({
      vocabulary,
      mergeRanks,
      maxLength,
      startId: idOf('bos_token', START_TOKEN),
      endId: idOf('eos_token', END_TOKEN),
      padId: idOf('pad_token', END_TOKEN),
      unknownId: idOf('unk_token', END_TOKEN),
    });
  }

  /** The padded, truncated ids the text encoder takes, and what truncation cut. */
  encode(text: string): TokenizedPrompt {
    const body = this.tokenIds(text);
    const room = this.maxLength - 2;
    const kept = Math.min(body.length, room);
    const inputIds = new Int32Array(this.maxLength).fill(this.padId);
    inputIds[0] = this.startId;
    for (let i = 0; i < kept; i++) inputIds[i + 1] = body[i] ?? this.unknownId;
    inputIds[kept + 1] = this.endId;
    return {
      inputIds,
      untruncatedLength: body.length,
      truncated: body.length > room,
      droppedTokens: body.length - kept,
    };
  }

  /** Id of one vocabulary entry (`,</w>`), or undefined when the vocabulary lacks it. */
  vocabularyId(token: string): number | undefined {
    return this.vocabulary.get(token);
  }

  /** Ids of every BPE token of `text`, without start/end tokens and without truncation. */
  tokenIds(text: string): number[] {
    const ids: number[] = [];
    for (const [piece] of cleanPrompt(text).matchAll(PRE_TOKENIZER)) {
      let symbols = '';
      for (const byte of UTF8.encode(piece)) symbols += BYTE_TABLE.encoder[byte] ?? '';
      for (const token of this.bpe(symbols)) ids.push(this.vocabulary.get(token) ?? this.unknownId);
    }
    return ids;
  }

  /** Text of the given ids (what the reference's `decode` gives): bytes restored, word ends as spaces. */
  decode(ids: Iterable<number>): string {
    this.tokensById ??= new Map([...this.vocabulary].map(([token, id]) => [id, token]));
    const bytes: number[] = [];
    for (const id of ids) {
      for (const char of this.tokensById.get(id) ?? '') {
        const byte = BYTE_TABLE.decoder.get(char);
        if (byte !== undefined) bytes.push(byte);
      }
    }
    return new TextDecoder().decode(new Uint8Array(bytes)).replaceAll(END_OF_WORD, ' ').trim();
  }

  /** Splits one pre-token into vocabulary symbols by applying the lowest-ranked merge until none applies. */
  private bpe(piece: string): readonly string[] {
    const cached = this.bpeCache.get(piece);
    if (cached !== undefined) return cached;
    const merged = piece === START_TOKEN || piece === END_TOKEN ? [piece] : this.merge(piece);
    if (this.bpeCache.size >= BPE_CACHE_LIMIT) {
      const oldest = this.bpeCache.keys().next();
      if (oldest.done !== true) this.bpeCache.delete(oldest.value);
    }
    this.bpeCache.set(piece, merged);
    return merged;
  }

  private merge(piece: string): string[] {
    // One symbol per character: the byte table only produces single UTF-16 code units.
    let word = Array.from(piece);
    word.push(`${word.pop() ?? ''}${END_OF_WORD}`);
    while (word.length > 1) {
      let bestRank = Number.POSITIVE_INFINITY;
      let bestIndex = -1;
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.mergeRanks.get(`${word[i] ?? ''} ${word[i + 1] ?? ''}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestIndex = i;
        }
      }
      if (bestIndex < 0) break;
      const first = word[bestIndex] ?? '';
      const second = word[bestIndex + 1] ?? '';
      // Every occurrence of the pair merges in one left-to-right pass, as in the reference.
      const next: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (word[i] === first && word[i + 1] === second && i < word.length - 1) {
          next.push(first + second);
          i++;
        } else {
          next.push(word[i] ?? '');
        }
      }
      word = next;
    }
    return word;
  }
}
