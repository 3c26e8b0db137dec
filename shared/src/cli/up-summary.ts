/**
 * What `sdbot up` prints on a terminal once everything is started: where NATS is, what each
 * worker serves, whether the bot runs, and the next command to try.
 */
import { homedir } from 'node:os';
import { basename } from 'node:path';
import { styleText } from 'node:util';

export interface UpSummary {
  natsUrl: string;
  /** Data directory of the local server (undefined with NATS_URL). */
  dataDir: string | undefined;
  natsLog: string | undefined;
  workers: { model: string; provider: string }[];
  bot: 'running' | 'no token' | 'not in this build';
  next: string;
}

function tilde(path: string): string {
  const home = homedir();
  return path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}

export function formatUpSummary(summary: UpSummary, colour = true): string {
  const bold = (text: string) => (colour ? styleText('bold', text) : text);
  const dim = (text: string) => (colour ? styleText('dim', text) : text);
  const lines = ['', bold('sdbot is up')];
  const nats =
    summary.dataDir === undefined
      ? `${summary.natsUrl} (NATS_URL)`
      : `${summary.natsUrl}  data ${tilde(summary.dataDir)}  log ${tilde(summary.natsLog ?? '')}`;
  lines.push(`  ${'NATS'.padEnd(8)}${nats}`);
  for (const worker of summary.workers) {
    lines.push(
      `  ${'worker'.padEnd(8)}${basename(worker.model)}  ${worker.provider}  starting ${dim(`(${tilde(worker.model)}; a worker:online line follows when it is ready)`)}`,
    );
  }
  const bot =
    summary.bot === 'running'
      ? 'starting'
      : summary.bot === 'no token'
        ? `off ${dim('(set DISCORD_TOKEN to run it)')}`
        : `off ${dim('(not in this build)')}`;
  lines.push(`  ${'bot'.padEnd(8)}${bot}`);
  lines.push('', `  try:  ${bold(summary.next)}`);
  lines.push(`        npx sdbot status --nats ${summary.natsUrl} --watch`, '');
  return `${lines.join('\n')}\n`;
}
