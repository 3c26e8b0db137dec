/**
 * The floor under `orchestration`: a job's NATS operations done with nats.js alone, with no sdbot
 * code (no validation, deadlines, retries, dispatcher, metrics or simulated image). The requester
 * subscribes to the outcome and looks it up, records the job's state and queues the job; a worker
 * pulls it, reads the state, writes `started`, publishes a progress message and writes `progress`,
 * stores a 2.5 KB image in the object store, writes `completed`, publishes the outcome and acks.
 * Requester and workers are separate connections in this process, against NATS as provisioning
 * sets it up (file storage, R1). Sequential jobs give the latency floor; jobs in flight together,
 * the CPU floor per job (this process's and the server's).
 * Options: --jobs=300 --burst=1000 --workers=4.
 */
import { jetstream, jetstreamManager, AckPolicy, type Consumer } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { KV_BUCKETS, OBJECT_STORES, STREAMS, SUBJECTS, newJobId } from '@sdbot/shared';
import { numberArg, percentile, printTable } from '../helpers/bench.js';
import { machineCpu, processCpuMs } from '../helpers/machine-cpu.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { openTestClient } from '../helpers/workers.js';

const MODEL = 'floor';
const image = new Uint8Array(2572).fill(7);
const encoder = new TextEncoder();

/** A state record about the size of sdbot's (the job's prompt and parameters in it). */
function stateOf(jobId: string, state: string): Uint8Array {
  return encoder.encode(
    JSON.stringify({ v: 1, job: { id: jobId, prompt: 'x'.repeat(300) }, status: { state } }),
  );
}

async function workerLoop(
  consumer: Consumer,
  kv: KV,
  store: ObjectStore,
  nc: NatsConnection,
  stop: () => boolean,
) {
  const js = jetstream(nc);
  while (!stop()) {
    const messages = await consumer.fetch({ max_messages: 1, expires: 1000 });
    for await (const message of messages) {
      const jobId = message.string();
      const entry = await kv.get(jobId);
      let revision = await kv.update(jobId, stateOf(jobId, 'started'), entry?.revision ?? 0);
      nc.publish(
        SUBJECTS.progress(jobId),
        encoder.encode(JSON.stringify({ v: 1, jobId, step: 1, total: 1 })),
      );
      revision = await kv.update(jobId, stateOf(jobId, 'progress'), revision);
      await store.putBlob({ name: `${jobId}/0.png` }, image);
      await kv.update(jobId, stateOf(jobId, 'completed'), revision);
      await js.publish(
        SUBJECTS.result(jobId),
        encoder.encode(JSON.stringify({ v: 1, type: 'result', jobId })),
        {
          msgID: jobId,
        },
      );
      message.ack();
    }
  }
}

export async function run(args: string[]): Promise<void> {
  const sequentialJobs = numberArg(args, 'jobs', 300);
  const burstJobs = numberArg(args, 'burst', 1000);
  const workerCount = numberArg(args, 'workers', 4);
  const server = await startNatsServer();
  // Provisioned as sdbot's processes do it (streams, buckets, object store).
  const provisioner = await openTestClient(server.url);
  const requester = await connect({ servers: server.url, noAsyncTraces: true });
  const jsm = await jetstreamManager(requester);
  await jsm.consumers.add(STREAMS.jobs, {
    durable_name: `workers-${MODEL}`,
    filter_subject: SUBJECTS.job(MODEL),
    ack_policy: AckPolicy.Explicit,
  });
  const workers = await Promise.all(
    Array.from({ length: workerCount }, () => connect({ servers: server.url, noAsyncTraces: true })),
  );
  let stopping = false;
  const loops = workers.map(async (nc) => {
    const js = jetstream(nc);
    const consumer = await js.consumers.get(STREAMS.jobs, `workers-${MODEL}`);
    const kv = await new Kvm(js).open(KV_BUCKETS.jobs);
    const store = await new Objm(js).open(OBJECT_STORES.images);
    await workerLoop(consumer, kv, store, nc, () => stopping);
  });
  const js = jetstream(requester);
  const kv = await new Kvm(js).open(KV_BUCKETS.jobs);
  const oneJob = async (): Promise<number> => {
    const jobId = newJobId('floor');
    const started = performance.now();
    const outcome = new Promise<void>((resolve) => {
      requester.subscribe(SUBJECTS.result(jobId), {
        max: 1,
        callback: () => {
          resolve();
        },
      });
    });
    await Promise.all([
      jsm.streams.getMessage(STREAMS.results, { last_by_subj: SUBJECTS.result(jobId) }),
      kv
        .create(jobId, stateOf(jobId, 'queued'))
        .then(() => js.publish(SUBJECTS.job(MODEL), jobId, { msgID: jobId })),
    ]);
    await outcome;
    return performance.now() - started;
  };
  const pids = [server.process?.pid ?? 0];
  const usage = () => ({ cpu: process.cpuUsage(), server: processCpuMs(pids) ?? Number.NaN });
  const perJob = (since: ReturnType<typeof usage>, jobs: number) => {
    const now = usage();
    const cpu = process.cpuUsage(since.cpu);
    return {
      process: ((cpu.user + cpu.system) / 1000 / jobs).toFixed(2),
      server: ((now.server - since.server) / jobs).toFixed(2),
    };
  };
  try {
    for (let warmup = 0; warmup < 20; warmup++) await oneJob();
    const sequentialSince = usage();
    const latencies: number[] = [];
    for (let index = 0; index < sequentialJobs; index++) latencies.push(await oneJob());
    const sequential = perJob(sequentialSince, sequentialJobs);
    latencies.sort((a, b) => a - b);
    const burstSince = usage();
    const machine = machineCpu();
    const burstStart = performance.now();
    await Promise.all(Array.from({ length: burstJobs }, () => oneJob()));
    const burstMs = performance.now() - burstStart;
    const busy = machine.busyPercent();
    const burst = perJob(burstSince, burstJobs);
    printTable([
      ['what', `nats.js alone: ${workerCount} workers, one requester, one process; NATS R1, file storage`],
      ['sequential jobs', String(sequentialJobs)],
      [
        'latency p50 / p99',
        `${percentile(latencies, 0.5).toFixed(2)} / ${percentile(latencies, 0.99).toFixed(2)} ms`,
      ],
      ['CPU per job, requester and workers (sequential)', `${sequential.process} ms`],
      ['CPU per job, NATS (sequential)', `${sequential.server} ms`],
      ['burst of concurrent jobs', String(burstJobs)],
      ['burst throughput', `${((burstJobs * 1000) / burstMs).toFixed(1)} jobs/s`],
      ['CPU of this machine busy (burst)', busy],
      ['CPU per job, requester and workers (burst)', `${burst.process} ms`],
      ['CPU per job, NATS (burst)', `${burst.server} ms`],
    ]);
  } finally {
    stopping = true;
    await Promise.all(loops.map((loop) => loop.catch(() => undefined)));
    await Promise.all([...workers, requester].map((nc) => nc.close()));
    await provisioner.close();
    await server.cleanup();
  }
}
