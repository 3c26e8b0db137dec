/**
 * `/queue` (where the member's jobs are, how deep each model's queue is, who is online) and `/info`
 * (models with their safety checker, versions, this server's limits, the prompt flags). Both answer
 * privately from NATS: the rate limiter's slots, job state, the queue streams and worker heartbeats.
 */
import type { ChatInputCommandInteraction } from 'discord.js';
import {
  collectStatus,
  DEFAULT_PROMPT_SYNTAX,
  LIMITS,
  schedulerLabel,
  type JobStateRecord,
  type WorkerHeartbeat,
} from '@sdbot/shared';
import { formatQuota } from '../preferences/changes.js';
import { KNOWN_FLAGS_TEXT } from '../prompt/flags.js';
import { dailyLimits } from '../requests/request-job.js';
import { effectiveLimits } from '../ratelimit/policy.js';
import type { BotContext } from '../service/context.js';
import { jobCaption } from '../delivery/views.js';
import { deferPrivately } from './respond.js';

/** Jobs of the member listed by /queue; the rest are counted. */
const QUEUE_LIST_MAX = 10;
const MESSAGE_MAX_CHARS = 2000;

function clip(text: string): string {
  return text.length <= MESSAGE_MAX_CHARS ? text : `${text.slice(0, MESSAGE_MAX_CHARS - 1)}…`;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function shortPrompt(prompt: string): string {
  const flat = prompt.replace(/\s+/g, ' ').replace(/[`*_~|]/g, '');
  return flat.length <= 60 ? flat : `${flat.slice(0, 59)}…`;
}

async function describeJob(ctx: BotContext, state: JobStateRecord): Promise<string> {
  const what = `\`${shortPrompt(jobCaption(state.job))}\``;
  const status = state.status;
  switch (status.state) {
    case 'queued': {
      const position = await ctx.jobs.queuePosition(state.job.id).catch(() => null);
      if (position === null) return `${what}: queued`;
      return `${what}: queued, ${plural(position.ahead, 'job')}${position.capped ? ' or more' : ''} ahead`;
    }
    case 'started':
      return `${what}: starting`;
    case 'progress':
      return `${what}: step ${status.step}/${status.total}`;
    default:
      return `${what}: ${status.state}`;
  }
}

export async function handleQueue(ctx: BotContext, interaction: ChatInputCommandInteraction): Promise<void> {
  if (!(await deferPrivately(interaction))) return;
  const [status, active] = await Promise.all([
    collectStatus(ctx.jsm, ctx.jobs.workers),
    ctx.limiter.activeJobs(interaction.guildId),
  ]);
  const mine = active.filter((job) => job.userId === interaction.user.id);
  const lines: string[] = [];
  if (mine.length === 0) {
    lines.push('You have no jobs waiting or running here.');
  } else {
    lines.push(`**Your jobs** (${mine.length}):`);
    for (const job of mine.slice(0, QUEUE_LIST_MAX)) {
      const state = await ctx.jobs.state(job.jobId);
      if (state !== null) lines.push(`- ${await describeJob(ctx, state)}`);
    }
    if (mine.length > QUEUE_LIST_MAX) lines.push(`- and ${mine.length - QUEUE_LIST_MAX} more`);
  }
  const waiting = status.queues.reduce((sum, queue) => sum + queue.queued, 0);
  const running = status.queues.reduce((sum, queue) => sum + queue.running, 0);
  lines.push(
    `**Queue**: ${plural(waiting, 'job')} waiting, ${running} running; ${plural(active.length, 'job')} from this ${interaction.guildId === null ? 'chat' : 'server'}.`,
  );
  for (const queue of status.queues) {
    lines.push(
      `- \`${queue.model}\`: ${queue.queued} waiting, ${queue.running} running, ${plural(queue.workers, 'worker')}`,
    );
  }
  lines.push(`**Workers online**: ${status.workers.length}`);
  await interaction.editReply({ content: clip(lines.join('\n')), allowedMentions: { parse: [] } });
}

interface ModelSummary {
  id: string;
  name: string;
  workers: number;
  /** Every worker serving it runs the safety checker. */
  safetyChecker: boolean;
  simulated: boolean;
}

function summarizeModels(workers: readonly WorkerHeartbeat[]): ModelSummary[] {
  const models = new Map<string, ModelSummary>();
  for (const worker of workers) {
    for (const model of worker.models) {
      // Upscalers are listed on their own line of /info.
      if (model.upscaler !== undefined) continue;
      const known = models.get(model.id);
      models.set(model.id, {
        id: model.id,
        name: known?.name ?? model.name,
        workers: (known?.workers ?? 0) + 1,
        safetyChecker: (known?.safetyChecker ?? true) && model.safetyChecker,
        simulated: (known?.simulated ?? false) || worker.simulated,
      });
    }
  }
  return [...models.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export async function handleInfo(ctx: BotContext, interaction: ChatInputCommandInteraction): Promise<void> {
  if (!(await deferPrivately(interaction))) return;
  const guildId = interaction.guildId;
  const [workers, settings] = await Promise.all([
    ctx.jobs.liveWorkers(),
    guildId === null ? null : ctx.settings.get(guildId),
  ]);
  const lines: string[] = [];
  const models = summarizeModels(workers);
  lines.push(`**Models** (${plural(workers.length, 'worker')} online):`);
  if (models.length === 0) lines.push('- none right now; ask the bot operator to start a worker');
  for (const model of models) {
    const label = model.name === model.id ? `\`${model.id}\`` : `\`${model.id}\` (${model.name})`;
    const checker = model.safetyChecker ? 'safety checker on' : 'safety checker OFF';
    lines.push(
      `- ${label}: ${checker}, ${plural(model.workers, 'worker')}${model.simulated ? ', simulated' : ''}`,
    );
  }
  const upscalers = [
    ...new Set(
      workers.flatMap((worker) =>
        worker.models.flatMap((model) =>
          model.upscaler === undefined ? [] : [`\`${model.id}\` (${model.upscaler.scale}x)`],
        ),
      ),
    ),
  ];
  lines.push(
    `**Upscalers**: ${upscalers.length === 0 ? 'none online (U posts images at their generated size)' : upscalers.join(', ')}`,
  );
  const workerVersions = [...new Set(workers.map((worker) => worker.version))].join(', ') || 'none online';
  lines.push(`**Versions**: bot ${ctx.version}; workers ${workerVersions}`);
  const defaults = ctx.jobDefaults;
  const maxPixels = Math.min(defaults.maxPixels, settings?.maxPixels ?? Number.POSITIVE_INFINITY);
  const scheduler = settings?.defaultScheduler ?? defaults.scheduler;
  const model = settings?.defaultModel ?? defaults.model ?? models[0]?.id ?? 'the first model online';
  lines.push(
    `**Limits here**: steps up to ${settings?.maxSteps ?? LIMITS.steps.max} (default ${Math.min(defaults.steps, settings?.maxSteps ?? defaults.steps)}), ` +
      `up to ${settings?.maxCount ?? LIMITS.count.max} images per request, width x height up to ${maxPixels} pixels; ` +
      `default model \`${model}\`, scheduler ${schedulerLabel(scheduler)}.`,
  );
  const rates = effectiveLimits(ctx.config.rateLimits, settings?.rateLimits);
  lines.push(
    `**Rate limits**: ${rates.guildJobsPerMinute} jobs per minute for the ${guildId === null ? 'direct messages' : 'server'} (bursts of ${rates.guildBurst}), ` +
      `${rates.userJobsPerMinute} per member (bursts of ${rates.userBurst}), ${rates.userMaxConcurrent} at once per member, ` +
      `${rates.guildMaxQueued} queued at once in all.`,
  );
  const quotas = settings === null ? {} : dailyLimits({ settings });
  if (guildId !== null && (quotas.user !== undefined || quotas.server !== undefined)) {
    const usage = await ctx.quotas.usage({ guildId, userId: interaction.user.id });
    const line = formatQuota({ limits: quotas, usage, now: ctx.now() });
    if (line !== undefined) lines.push(line);
  }
  lines.push(`**Prompt flags**: ${KNOWN_FLAGS_TEXT}`);
  lines.push(
    (settings?.promptSyntax ?? DEFAULT_PROMPT_SYNTAX) === 'a1111'
      ? '**Prompt syntax**: A1111: `(word)`, `(word:1.3)`, `[word]`, `\\(` for a literal bracket, `BREAK`; up to 3 chunks of 75 tokens.'
      : '**Prompt syntax**: plain: the prompt is read as typed, up to 77 tokens.',
  );
  await interaction.editReply({ content: clip(lines.join('\n')), allowedMentions: { parse: [] } });
}
