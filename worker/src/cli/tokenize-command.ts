import { join } from 'node:path';
import { stringOption, UsageError, type CommandDefinition } from '@sdbot/shared';
import { ClipTokenizer, type TokenizedPrompt } from '../diffusion/tokenizer.js';

export const tokenizeCommand: CommandDefinition = {
  name: 'tokenize',
  summary: 'Show the CLIP token ids a prompt becomes, and what a long prompt loses to truncation',
  usage: '--model DIR [--json] TEXT',
  options: {
    model: { type: 'string', valueName: 'DIR', description: 'Model directory (its tokenizer/ is used)' },
    json: {
      type: 'boolean',
      description: 'Print one line of JSON: input_ids, untruncated_length, truncated',
    },
  },
  details: 'Words after --model DIR are joined with spaces; quote the prompt to keep it exact.',
  allowPositionals: true,
  async run({ options, positionals, stdout }) {
    const modelDir = stringOption(options, 'model', { required: true }) ?? '';
    if (positionals.length === 0)
      throw new UsageError('the text to tokenize is required (sdbot tokenize --model DIR TEXT)');
    const text = positionals.join(' ');
    const tokenizer = await ClipTokenizer.fromDirectory(join(modelDir, 'tokenizer'));
    const result = tokenizer.encode(text);
    if (options.json === true) {
      stdout.write(
        `${JSON.stringify({
          input_ids: Array.from(result.inputIds),
          untruncated_length: result.untruncatedLength,
          truncated: result.truncated,
        })}\n`,
      );
    } else {
      stdout.write(formatReadable(tokenizer, text, result));
    }
    return 0;
  },
};

function formatReadable(tokenizer: ClipTokenizer, text: string, result: TokenizedPrompt): string {
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
