import { listConfigVariables } from '../config.js';
import { loadConfig } from '../config/load.js';
import { redactConfig } from '../config/redact.js';
import type { CommandDefinition } from './command.js';

export const configCommand: CommandDefinition = {
  name: 'config',
  summary: 'Check the configuration and print it (secrets hidden), or list every variable',
  usage: '[--list] [--json]',
  options: {
    list: { type: 'boolean', description: 'List every variable with its default and meaning' },
    json: { type: 'boolean', description: 'Print JSON' },
  },
  run({ options, env, stdout }) {
    if (options.list === true) {
      const variables = listConfigVariables();
      if (options.json === true) {
        stdout.write(`${JSON.stringify(variables, null, 2)}\n`);
      } else {
        for (const v of variables) {
          const shown = v.default === undefined ? '' : ` (default ${JSON.stringify(v.default)})`;
          stdout.write(`${v.env}${shown}\n    ${v.description}\n`);
        }
      }
      return Promise.resolve(0);
    }
    const config = redactConfig(loadConfig({ env }));
    stdout.write(options.json === true ? `${JSON.stringify(config, null, 2)}\n` : formatConfig(config));
    return Promise.resolve(0);
  },
};

function formatConfig(config: Record<string, Record<string, unknown>>): string {
  const lines: string[] = ['configuration is valid:'];
  for (const [group, values] of Object.entries(config)) {
    lines.push(`  ${group}:`);
    for (const [key, value] of Object.entries(values)) {
      lines.push(`    ${key}: ${value === undefined ? '(unset)' : JSON.stringify(value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
