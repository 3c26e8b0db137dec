/**
 * The NATS users and permissions of deploy/nats/accounts.conf, loaded as-is into a real server:
 * every flow a role needs works without a single permission violation, and each thing a role must
 * not do is refused by the server.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INBOX_PREFIXES,
  JOB_FLOW_RESOURCES,
  KV_BUCKETS,
  STREAMS,
  SUBJECTS,
  collectStatus,
  connectNats,
  encodeMessage,
  isPermissionViolation,
  backlogConsumerName,
  jobConsumerName,
  provisionJetStream,
  workerHeartbeatSchema,
  type NatsConnection,
} from '@sdbot/shared';
import { runSdbot } from '../../helpers/cli.js';
import { testJob } from '../../helpers/jobs.js';
import { exampleHeartbeat, exampleJob, exampleResult } from '../../helpers/messages.js';
import {
  natsServerAvailable,
  natsServerBinary,
  startNatsServer,
  type NatsTestServer,
} from '../../helpers/nats-server.js';
import { botEnv, passwords, workerEnv } from '../../helpers/nats-users.js';
import { repositoryRoot } from '../../helpers/shared-fixtures.js';
import {
  cliRequester,
  openTestClient,
  startTestWorker,
  testConfig,
  type TestClient,
  type TestWorker,
} from '../../helpers/workers.js';

const available = natsServerAvailable();
const deployDirectory = join(repositoryRoot, 'deploy/nats');

async function expectDenied(action: Promise<unknown>): Promise<void> {
  const error = await action.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error, 'the server should have refused this').toBeDefined();
  expect(isPermissionViolation(error) || String(error).includes('Permissions Violation'), String(error)).toBe(
    true,
  );
}

/** A request on `subject` only gets through when the user may publish there. */
function requestOn(connection: NatsConnection, subject: string): Promise<unknown> {
  return connection.request(subject, '{}', { timeout: 2000 });
}

describe('deploy/nats/sdbot.conf', () => {
  it.skipIf(!available)('passes `nats-server -t` with the passwords set', async () => {
    const { stdout, stderr } = await promisify(execFile)(
      natsServerBinary,
      ['-t', '-c', join(deployDirectory, 'sdbot.conf')],
      {
        env: { ...process.env, ...passwords },
      },
    );
    expect(`${stdout}${stderr}`).toContain('configuration file');
    expect(`${stdout}${stderr}`).toContain('is valid');
  });
});

describe.skipIf(!available)('NATS users and permissions (deploy/nats/accounts.conf)', () => {
  let server: NatsTestServer;
  let worker: TestWorker;
  let bot: TestClient;

  beforeAll(async () => {
    Object.assign(process.env, passwords);
    server = await startNatsServer({ include: [join(deployDirectory, 'accounts.conf')] });
    const setup = await runSdbot(['nats', 'setup', '--nats', server.url], { ...botEnv, LOG_LEVEL: 'silent' });
    expect(setup.stderr).toBe('');
    expect(setup.code).toBe(0);
    worker = await startTestWorker(server.url, { env: workerEnv, workerId: 'secure-worker', msPerStep: 30 });
    bot = await openTestClient(server.url, botEnv);
  });

  afterAll(async () => {
    await worker.stop();
    await bot.close();
    await server.cleanup();
  });

  /** A connection as the user `env` logs in as, open while `body` runs. */
  async function withConnection(
    env: NodeJS.ProcessEnv,
    name: string,
    inboxPrefix: string,
    body: (connection: NatsConnection) => Promise<void>,
  ): Promise<void> {
    const connection = await connectNats(testConfig(server.url, env).nats, { name, inboxPrefix });
    try {
      await body(connection);
    } finally {
      await connection.close();
    }
  }

  it('lets the bot and the worker run every job flow without a permission violation', async () => {
    const { client, connection } = bot;
    const job = testJob(client, {
      prompt: 'secure',
      model: 'sim',
      requester: cliRequester,
      // Previews at steps 5 and 10: each a new object in the short-lived previews store.
      steps: 12,
      width: 64,
      height: 64,
      count: 2,
    });
    const previews: string[] = [];
    const watch = client.watchProgress(job.id, (progress) => {
      if (progress.preview !== undefined) previews.push(progress.preview.name);
    });
    const waiting = client.awaitOutcome(job.id, { timeoutMs: 20_000 });
    await client.submit(job);
    const outcome = await waiting;
    watch.stop();
    if (outcome.type !== 'result') throw new Error(`expected a result, got ${JSON.stringify(outcome)}`);
    expect(previews).toEqual([`${job.id}/preview-5.png`, `${job.id}/preview-10.png`]);
    await client.readImage({
      store: 'sdbot-previews',
      name: previews[0]!,
      size: 0,
      contentType: 'image/png',
    });
    expect((await sharp(await client.readImage(outcome.images[1]!.image)).metadata()).width).toBe(64);

    // img2img: the bot uploads the source, the worker reads it.
    const source = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#00ff00' } })
      .png()
      .toBuffer();
    const img2img = testJob(client, {
      prompt: 'from source',
      model: 'sim',
      requester: cliRequester,
      steps: 2,
      width: 64,
      height: 64,
      strength: 0,
      source: await client.uploadSource('secure-img2img', source),
      id: 'secure-img2img',
    });
    const fromSource = client.awaitOutcome(img2img.id, { timeoutMs: 20_000 });
    await client.submit(img2img);
    expect((await fromSource).type).toBe('result');

    // Queue position of a waiting job, then cancel it and the running one.
    const long = testJob(client, {
      prompt: 'long',
      model: 'sim',
      requester: cliRequester,
      steps: 150,
      width: 64,
      height: 64,
    });
    const next = testJob(client, {
      prompt: 'next',
      model: 'sim',
      requester: cliRequester,
      steps: 150,
      width: 64,
      height: 64,
    });
    const cancelled = [
      client.awaitOutcome(long.id, { timeoutMs: 20_000 }),
      client.awaitOutcome(next.id, { timeoutMs: 20_000 }),
    ];
    await client.submit(long);
    await client.submit(next);
    expect(await client.queuePosition(next.id)).toEqual({ ahead: 0, capped: false });
    // A third job waits in the backlog (the worker's one slot is taken and one job is on deck).
    const third = testJob(client, {
      prompt: 'third',
      model: 'sim',
      requester: { source: 'discord', guildId: '123456789012345678', channelId: null, userId: 'tester' },
      steps: 150,
      width: 64,
      height: 64,
    });
    cancelled.push(client.awaitOutcome(third.id, { timeoutMs: 20_000 }));
    await client.submit(third);
    expect(await client.queuePosition(third.id)).toEqual({ ahead: 1, capped: false });
    expect(
      (await (await jetstreamManager(connection)).consumers.info(STREAMS.backlog, backlogConsumerName('sim')))
        .num_pending,
    ).toBe(1);
    await client.cancel(third.id, 'tester');
    await client.cancel(next.id, 'tester');
    await client.cancel(long.id, 'tester');
    expect(await Promise.all(cancelled)).toMatchObject([
      { code: 'CANCELLED' },
      { code: 'CANCELLED' },
      { code: 'CANCELLED' },
    ]);

    // A dispatcher takes a lane's moved jobs out of the backlog with one purge up to the last.
    await (
      await jetstreamManager(connection)
    ).streams.purge(STREAMS.backlog, { filter: SUBJECTS.backlog('sim', 'cli'), seq: 1 });

    // A malformed job: the worker dead-letters it, the bot reads the dead letter.
    const rejected = client.awaitOutcome('secure-bad', { timeoutMs: 20_000 });
    await jetstream(connection).publish(
      SUBJECTS.job('sim'),
      JSON.stringify(exampleJob({ id: 'secure-bad', model: 'sim', steps: 0 })),
    );
    expect(await rejected).toMatchObject({ code: 'INVALID_MESSAGE' });
    const status = await collectStatus(await jetstreamManager(connection), client.workers);
    expect(status.workers.map((w) => w.workerId)).toEqual(['secure-worker']);
    expect(status.deadLetters.recent[0]).toMatchObject({ jobId: 'secure-bad' });

    const statusRun = await runSdbot(['status', '--nats', server.url], { ...botEnv, LOG_LEVEL: 'silent' });
    expect(statusRun.code).toBe(0);
    // nats-server logs every refused publish or subscription as a "... Violation".
    expect(server.log).not.toContain('Violation');
  });

  it('lets workers dead-letter a job from the max-deliveries advisory', async () => {
    const env = { ...workerEnv, SDBOT_MAX_DELIVER: '1', SDBOT_ACK_WAIT: '1s' };
    await withConnection(env, 'dying-worker', INBOX_PREFIXES.worker, async (dying) => {
      await provisionJetStream(await jetstreamManager(dying), testConfig(server.url, env), {
        resources: JOB_FLOW_RESOURCES,
        models: ['doomed'],
      });
      const { client } = bot;
      const job = testJob(client, { prompt: 'doomed', model: 'doomed', requester: cliRequester });
      const waiting = client.awaitOutcome(job.id, { timeoutMs: 20_000 });
      await client.submit(job, { requireServedModel: false });
      const consumer = await jetstream(dying).consumers.get(STREAMS.jobs, jobConsumerName('doomed'));
      expect((await consumer.next({ expires: 5000 }))?.info.deliveryCount).toBe(1);
      expect(await consumer.next({ expires: 2500 })).toBeNull();
      expect(await waiting).toMatchObject({ type: 'failure', code: 'MAX_DELIVERIES_EXCEEDED' });
    });
    expect(server.log).not.toContain('Violation');
  });

  it('refuses the worker what only the bot may do', async () => {
    await withConnection(workerEnv, 'rogue-worker', INBOX_PREFIXES.worker, async (connection) => {
      const js = jetstream(connection);
      await expectDenied(js.publish(SUBJECTS.job('sim'), JSON.stringify(exampleJob({ model: 'sim' }))));
      // Nor queue a job in the backlog, take one out of it, or move the dispatch cursor.
      await expectDenied(
        js.publish(SUBJECTS.backlog('sim', 'cli'), JSON.stringify(exampleJob({ model: 'sim' }))),
      );
      await expectDenied(requestOn(connection, `$JS.API.STREAM.MSG.DELETE.${STREAMS.backlog}`));
      await expectDenied(
        requestOn(connection, `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.backlog}.${backlogConsumerName('sim')}`),
      );
      const cursors = await new Kvm(js).open(KV_BUCKETS.dispatch, { allow_direct: true });
      await expectDenied(cursors.put('sim', 'cli'));
      const settings = await new Kvm(js).open(KV_BUCKETS.settings, { allow_direct: true });
      await expectDenied(settings.get('123456789012345678'));
      await expectDenied(settings.put('123456789012345678', '{}'));
      await expectDenied(requestOn(connection, `$JS.API.STREAM.DELETE.${STREAMS.jobs}`));
      await expectDenied(requestOn(connection, `$JS.API.STREAM.CREATE.${STREAMS.jobs}`));
      // Least privilege: no purging the image store (nor any other), no deleting images, outcomes,
      // job state or queued jobs beyond its one dead-lettered message, no reconfiguring anything.
      const jsm = await jetstreamManager(connection);
      await expectDenied(jsm.streams.purge('OBJ_sdbot-images'));
      await expectDenied(jsm.streams.purge('OBJ_sdbot-images', { filter: '$O.sdbot-images.C.x' }));
      await expectDenied(jsm.streams.purge('OBJ_sdbot-previews'));
      await expectDenied(jsm.streams.purge(STREAMS.jobs));
      await expectDenied(jsm.streams.purge(STREAMS.results));
      await expectDenied(jsm.streams.purge('KV_sdbot-jobs'));
      await expectDenied(requestOn(connection, '$JS.API.STREAM.MSG.DELETE.OBJ_sdbot-images'));
      await expectDenied(requestOn(connection, '$JS.API.STREAM.MSG.DELETE.OBJ_sdbot-previews'));
      await expectDenied(requestOn(connection, `$JS.API.STREAM.MSG.DELETE.${STREAMS.results}`));
      await expectDenied(requestOn(connection, '$JS.API.STREAM.MSG.DELETE.KV_sdbot-jobs'));
      await expectDenied(requestOn(connection, `$JS.API.STREAM.UPDATE.${STREAMS.jobs}`));
      await expectDenied(requestOn(connection, '$JS.API.STREAM.UPDATE.OBJ_sdbot-images'));
      await expectDenied(requestOn(connection, '$JS.API.STREAM.DELETE.OBJ_sdbot-images'));
      await expectDenied(
        requestOn(connection, `$JS.API.CONSUMER.DELETE.${STREAMS.jobs}.${jobConsumerName('sim')}`),
      );
      const snoop = connection.subscribe(`${INBOX_PREFIXES.bot}.>`);
      await expectDenied(
        snoop.closed.then((error) => (error === undefined ? undefined : Promise.reject(error))),
      );
      const jobs = connection.subscribe(SUBJECTS.jobsAll);
      await expectDenied(
        jobs.closed.then((error) => (error === undefined ? undefined : Promise.reject(error))),
      );
    });
  });

  it('refuses the bot what only a worker may do', async () => {
    await withConnection(botEnv, 'rogue-bot', INBOX_PREFIXES.bot, async (connection) => {
      const js = jetstream(connection);
      await expectDenied(
        requestOn(connection, `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.jobs}.${jobConsumerName('sim')}`),
      );
      // The backlog is only moved by the dispatcher, never consumed like a queue.
      await expectDenied(
        requestOn(connection, `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.backlog}.${backlogConsumerName('sim')}`),
      );
      // Through the client library the refused pull surfaces as missing heartbeats; the server says why.
      const consumer = await js.consumers.get(STREAMS.jobs, jobConsumerName('sim'));
      await expect(consumer.next({ expires: 1000 })).rejects.toThrow();
      expect(server.log).toContain(
        `Publish Violation - User "sdbot-bot", Subject "$JS.API.CONSUMER.MSG.NEXT.${STREAMS.jobs}.${jobConsumerName('sim')}"`,
      );
      await expectDenied(
        requestOn(connection, `$JS.API.CONSUMER.CREATE.${STREAMS.jobs}.thief.${SUBJECTS.job('sim')}`),
      );
      await expectDenied(
        requestOn(connection, `$JS.ACK.${STREAMS.jobs}.${jobConsumerName('sim')}.1.1.1.1.0`),
      );
      await expectDenied(js.publish(SUBJECTS.result('job-0001'), JSON.stringify(exampleResult())));
      const workers = await new Kvm(js).open(KV_BUCKETS.workers, { allow_direct: true });
      await expectDenied(workers.put('gpu-1', encodeMessage(workerHeartbeatSchema, exampleHeartbeat())));
      const snoop = connection.subscribe(`${INBOX_PREFIXES.worker}.>`);
      await expectDenied(
        snoop.closed.then((error) => (error === undefined ? undefined : Promise.reject(error))),
      );
    });
  });
});
