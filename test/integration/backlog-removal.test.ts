/**
 * Taking moved jobs out of the backlog, against a real nats-server: a run read from the head of a
 * lane goes in one purge that never touches a later job or another lane, a run stops at a job
 * whose move failed, and jobs not read from a head are deleted one by one.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import {
  STREAMS,
  SUBJECTS,
  loadConfig,
  provisionJetStream,
  removeFromBacklog,
  type MovedJob,
} from '@sdbot/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../helpers/nats-server.js';

describe.skipIf(!natsServerAvailable())('removing moved jobs from the backlog (real nats-server)', () => {
  let server: NatsTestServer;
  let connection: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    server = await startNatsServer();
    connection = await connect({ servers: server.url });
    jsm = await jetstreamManager(connection);
    await provisionJetStream(jsm, loadConfig({ env: {} }), { resources: ['backlog'] });
  });

  afterAll(async () => {
    await connection.close();
    await server.cleanup();
  });

  async function queue(lane: string, jobId: string): Promise<MovedJob> {
    const ack = await jetstream(connection).publish(SUBJECTS.backlog('sim', lane), jobId, { msgID: jobId });
    return { seq: ack.seq, jobId, head: SUBJECTS.backlog('sim', lane) };
  }

  async function waiting(lane: string): Promise<string[]> {
    const ids: string[] = [];
    for (let seq = 1; ;) {
      const next = await jsm.direct.getMessage(STREAMS.backlog, {
        next_by_subj: SUBJECTS.backlog('sim', lane),
        seq,
      });
      if (next === null) return ids;
      ids.push(next.string());
      seq = next.seq + 1;
    }
  }

  it('purges a run read from the head of a lane, and only that', async () => {
    const run = [await queue('a', 'a1'), await queue('b', 'b1'), await queue('a', 'a2')];
    await queue('a', 'a3');
    const noted = await queue('c', 'c1');
    await queue('c', 'c2');
    // a1 and a2 read from lane a's head, b1 from b's; c1 remembered at submission (no head).
    await removeFromBacklog(jsm, [...run, { seq: noted.seq, jobId: 'c1' }], [true, true, true, true]);
    expect(await waiting('a')).toEqual(['a3']);
    expect(await waiting('b')).toEqual([]);
    expect(await waiting('c')).toEqual(['c2']);
  });

  it('keeps a job whose move failed and the run after it, deleting the moved ones', async () => {
    const jobs = [await queue('d', 'd1'), await queue('d', 'd2'), await queue('d', 'd3')];
    await removeFromBacklog(jsm, jobs, [true, false, true]);
    expect(await waiting('d')).toEqual(['d2']);
    // A job another dispatcher removed first is no failure.
    await removeFromBacklog(jsm, [{ seq: jobs[0]!.seq, jobId: 'd1' }], [true]);
  });
});
