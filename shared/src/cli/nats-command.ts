import { jetstreamManager } from '@nats-io/jetstream';
import { natsFailure } from '../nats/errors.js';
import { provisionJetStream } from '../nats/provision.js';
import { UsageError, stringListOption, type CommandDefinition } from './command.js';
import { configWithNats, connectAsClient, natsUrlOption } from './nats-cli.js';

export const natsCommand: CommandDefinition = {
  name: 'nats',
  summary: 'Create or update the NATS streams, consumers, KV buckets and object store (nats setup)',
  usage: 'setup --nats URL [--model ID ...] [--json]',
  allowPositionals: true,
  options: {
    nats: natsUrlOption,
    model: {
      type: 'string',
      multiple: true,
      valueName: 'ID',
      description: 'Also create the worker consumer of this model (workers create their own)',
    },
    json: { type: 'boolean', description: 'Print JSON' },
  },
  details:
    'Idempotent: existing resources keep their data; settings that differ from the configuration\n' +
    '(SDBOT_JS_REPLICAS, SDBOT_JOB_MAX_AGE, SDBOT_DUPLICATE_WINDOW, SDBOT_MAX_DELIVER, SDBOT_ACK_WAIT,\n' +
    'SDBOT_RESULT_MAX_AGE, SDBOT_JOB_STATE_TTL, ...) are updated. Run it as the bot or admin user.',
  async run({ options, positionals, env, stdout }) {
    if (positionals.length !== 1 || positionals[0] !== 'setup') {
      throw new UsageError(`expected "sdbot nats setup" (got "sdbot nats ${positionals.join(' ')}")`);
    }
    const config = configWithNats(options, env);
    const connection = await connectAsClient(config, 'sdbot-nats-setup');
    try {
      const jsm = await jetstreamManager(connection).catch((error: unknown) => {
        throw natsFailure(error, 'opening JetStream');
      });
      const report = await provisionJetStream(jsm, config, { models: stringListOption(options, 'model') });
      if (options.json === true) {
        stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        for (const [label, names] of [
          ['created', report.created],
          ['updated', report.updated],
          ['unchanged', report.unchanged],
        ] as const) {
          if (names.length > 0) stdout.write(`${label}: ${names.join(', ')}\n`);
        }
      }
    } finally {
      await connection.close();
    }
    return 0;
  },
};
