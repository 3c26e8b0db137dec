import { join } from 'node:path';
import {
  DEFAULT_PROMPT_SYNTAX,
  LIMITS,
  PROMPT_SYNTAXES,
  stringOption,
  UsageError,
  ValidationError,
  type CommandDefinition,
  type PromptSyntax,
} from '@sdbot/shared';
import { tokenizePrompt, type PromptTokens } from '../diffusion/prompt/index.js';
import { ClipTokenizer, type TokenizedPrompt } from '../diffusion/tokenizer.js';

function syntaxOption(value: string | undefined): PromptSyntax {
  if (value === undefined) return DEFAULT_PROMPT_SYNTAX;
  const syntax = PROMPT_SYNTAXES.find((name) => name === value);
  if (syntax === undefined) {
    throw new ValidationError([
      {
        field: '--syntax',
        message: `must be one of ${PROMPT_SYNTAXES.join(', ')} (got ${JSON.stringify(value)})`,
      },
    ]);
  }
  return syntax;
}

export const tokenizeCommand: CommandDefinition = {
  name: 'tokenize',
  summary: 'Show the CLIP token ids a prompt becomes, and what a long prompt loses to truncation',
  usage: '--model DIR [--syntax a1111|plain] [--json] TEXT',
  options: {
    model: { type: 'string', valueName: 'DIR', description: 'Model directory (its tokenizer/ is used)' },
    syntax: {
      type: 'string',
      valueName: 'a1111|plain',
      description: `How the prompt is read (default ${DEFAULT_PROMPT_SYNTAX}): A1111 weights and chunks, or plain text cut at 77 tokens`,
    },
    json: {
      type: 'boolean',
      description:
        'Print one line of JSON: input_ids, untruncated_length, truncated, and chunks (input_ids and weights of each)',
    },
  },
  details:
    'Words after --model DIR are joined with spaces; quote the prompt to keep it exact.\n' +
    'With a1111, input_ids is the first chunk, untruncated_length counts the prompt tokens after the\n' +
    `syntax is read, and truncated says whether tokens past ${LIMITS.promptMaxChunks} chunks were cut.`,
  allowPositionals: true,
  async run({ options, positionals, stdout }) {
    const modelDir = stringOption(options, 'model', { required: true }) ?? '';
    const syntax = syntaxOption(stringOption(options, 'syntax'));
    if (positionals.length === 0)
      throw new UsageError('the text to tokenize is required (sdbot tokenize --model DIR TEXT)');
    const text = positionals.join(' ');
    const tokenizer = await ClipTokenizer.fromDirectory(join(modelDir, 'tokenizer'));
    const tokens = tokenizePrompt(tokenizer, text, syntax);
    if (options.json === true) {
      stdout.write(
        `${JSON.stringify({
          input_ids: Array.from(tokens.chunks[0]?.inputIds ?? []),
          untruncated_length: tokens.tokenCount,
          truncated: tokens.droppedTokens > 0,
          chunks: tokens.chunks.map((chunk) => ({
            input_ids: Array.from(chunk.inputIds),
            weights: chunk.weights,
          })),
        })}\n`,
      );
    } else if (syntax === 'plain') {
      stdout.write(formatPlain(tokenizer, text, tokenizer.encode(text)));
    } else {
      const all = tokenizePrompt(tokenizer, text, syntax, Number.POSITIVE_INFINITY);
      const lost = all.chunks
        .slice(tokens.chunks.length)
        .flatMap((chunk) => Array.from(chunk.inputIds.subarray(1, 1 + chunk.tokenCount)));
      stdout.write(formatChunks(tokens, tokenizer.decode(lost)));
    }
    return 0;
  },
};

function formatPlain(tokenizer: ClipTokenizer, text: string, result: TokenizedPrompt): string {
  const room = tokenizer.maxLength - 2;
  const kept = result.untruncatedLength - result.droppedTokens;
  const padding = tokenizer.maxLength - kept - 2;
  const lines = [
    `${result.inputIds.length} ids (start + ${kept} prompt tokens + end + ${padding} padding):`,
    Array.from(result.inputIds).join(' '),
    `prompt tokens: ${result.untruncatedLength} (room for ${room})`,
  ];
  if (result.truncated) {
    const dropped = tokenizer.tokenIds(text).slice(room);
    lines.push(
      `truncated: the last ${result.droppedTokens} tokens are cut and the model never sees them: "${tokenizer.decode(dropped)}"`,
    );
  } else {
    lines.push('not truncated');
  }
  return `${lines.join('\n')}\n`;
}

/** Each chunk's ids, the weights of the tokens that are not 1, and the words cut. */
function formatChunks(tokens: PromptTokens, lostText: string): string {
  const lines = tokens.chunks.flatMap((chunk, index) => {
    const weighted = chunk.weights
      .map((weight, position) => ({ weight, position }))
      .filter(({ weight }) => weight !== 1)
      .map(({ weight, position }) => `${position}:${Number(weight.toPrecision(6))}`);
    return [
      `chunk ${index + 1}: ${chunk.inputIds.length} ids (start + ${chunk.tokenCount} prompt tokens + end + padding):`,
      Array.from(chunk.inputIds).join(' '),
      `weights other than 1 (position:weight): ${weighted.length === 0 ? 'none' : weighted.join(' ')}`,
    ];
  });
  lines.push(
    `prompt tokens: ${tokens.tokenCount} in ${tokens.chunks.length} chunk${tokens.chunks.length === 1 ? '' : 's'} (at most ${LIMITS.promptMaxChunks} of ${LIMITS.promptChunkTokens})`,
  );
  lines.push(
    tokens.droppedTokens > 0
      ? `truncated: the last ${tokens.droppedTokens} tokens are past chunk ${LIMITS.promptMaxChunks} and the model never sees them: "${lostText}"`
      : 'not truncated',
  );
  return `${lines.join('\n')}\n`;
}
