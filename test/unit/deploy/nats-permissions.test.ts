/**
 * The NATS permissions exist twice: deploy/nats/accounts.conf (plain nats-server, tested live in
 * test/integration/distributed/permissions.test.ts) and deploy/k8s/nats-values.yaml (Helm chart).
 * They must not drift apart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { INBOX_PREFIXES } from '@sdbot/shared';
import { repositoryRoot } from '../../helpers/shared-fixtures.js';

type Lists = Record<'publish' | 'subscribe', { allow?: string[]; deny?: string[] }>;

/** The `{ ... }` block that follows `start` in nats-server configuration text. */
function braceBlock(text: string, start: string): string {
  const open = text.indexOf('{', text.indexOf(start));
  let depth = 0;
  for (let index = open; index < text.length; index += 1) {
    if (text[index] === '{') depth += 1;
    if (text[index] === '}') depth -= 1;
    if (depth === 0) return text.slice(open, index + 1);
  }
  throw new Error(`unbalanced block after ${start}`);
}

function confLists(conf: string, variable: string): Lists {
  const block = braceBlock(conf, `${variable} =`);
  const lists: Lists = { publish: {}, subscribe: {} };
  for (const direction of ['publish', 'subscribe'] as const) {
    const section = braceBlock(block, `${direction}:`);
    for (const kind of ['allow', 'deny'] as const) {
      const match = new RegExp(`${kind}:\\s*\\[([^\\]]*)\\]`).exec(section);
      if (match) lists[direction][kind] = [...(match[1] ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1] ?? '');
    }
  }
  return lists;
}

const conf = readFileSync(join(repositoryRoot, 'deploy/nats/accounts.conf'), 'utf8')
  .split('\n')
  .map((line) => line.replace(/#.*$/, ''))
  .join('\n');
const values = parse(readFileSync(join(repositoryRoot, 'deploy/k8s/nats-values.yaml'), 'utf8')) as {
  config: { merge: { accounts: { SDBOT: { users: { user: string; permissions: Lists }[] } } } };
};
const helmUsers = values.config.merge.accounts.SDBOT.users;

describe('NATS permissions in deploy/', () => {
  for (const [user, variable] of [
    ['sdbot-bot', 'BOT_PERMISSIONS'],
    ['sdbot-worker', 'WORKER_PERMISSIONS'],
  ] as const) {
    it(`the Helm values give user ${user} exactly the permissions of deploy/nats/accounts.conf`, () => {
      const fromConf = confLists(conf, variable);
      expect(fromConf.publish.allow?.length).toBeGreaterThan(10);
      expect(helmUsers.find((entry) => entry.user === user)?.permissions).toEqual(fromConf);
    });
  }

  it('each role may subscribe to its own inbox prefix and not to the other one', () => {
    const bot = confLists(conf, 'BOT_PERMISSIONS').subscribe.allow ?? [];
    const worker = confLists(conf, 'WORKER_PERMISSIONS').subscribe.allow ?? [];
    expect(bot).toContain(`${INBOX_PREFIXES.bot}.>`);
    expect(worker).toContain(`${INBOX_PREFIXES.worker}.>`);
    expect([...bot, ...worker].filter((subject) => subject.startsWith('_INBOX.'))).toEqual([]);
    expect(bot).not.toContain(`${INBOX_PREFIXES.worker}.>`);
    expect(worker).not.toContain(`${INBOX_PREFIXES.bot}.>`);
  });
});
