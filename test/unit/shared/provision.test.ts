import { describe, expect, it } from 'vitest';
import { desiredStreams, jobConsumerConfig, loadConfig } from '@sdbot/shared';
import { outputPaths } from '../../../shared/src/cli/imagine-command.js';

const nanos = (ms: number) => ms * 1_000_000;

describe('JetStream provisioning settings', () => {
  it('come from configuration', () => {
    const streamAges = { SDBOT_JOB_MAX_AGE: '2h', SDBOT_DUPLICATE_WINDOW: '5m', SDBOT_RESULT_MAX_AGE: '1d' };
    const timings = { SDBOT_JOB_STATE_TTL: '3d', SDBOT_HEARTBEAT_INTERVAL: '2s', SDBOT_ACK_WAIT: '90s' };
    const config = loadConfig({
      env: { SDBOT_JS_REPLICAS: '3', ...streamAges, ...timings, SDBOT_MAX_DELIVER: '7' },
    });
    const streams = desiredStreams(config);
    expect(streams.jobs).toMatchObject({
      name: 'SDBOT_JOBS',
      subjects: ['sdbot.jobs.>'],
      retention: 'workqueue',
      num_replicas: 3,
      max_age: nanos(2 * 3_600_000),
      duplicate_window: nanos(5 * 60_000),
      max_msg_size: 64 * 1024,
    });
    expect(streams.results).toMatchObject({ max_age: nanos(86_400_000), max_msgs_per_subject: 1 });
    expect(streams.jobState).toMatchObject({
      name: 'KV_sdbot-jobs',
      max_age: nanos(3 * 86_400_000),
      allow_direct: true,
    });
    // Three missed heartbeats and a worker is gone.
    expect(streams.workers.max_age).toBe(nanos(6000));
    expect(streams.images).toMatchObject({
      name: 'OBJ_sdbot-images',
      max_age: nanos(86_400_000),
      num_replicas: 3,
    });
    expect(jobConsumerConfig(config, 'sd15')).toMatchObject({
      durable_name: 'workers-sd15',
      filter_subject: 'sdbot.jobs.sd15',
      ack_policy: 'explicit',
      ack_wait: nanos(90_000),
      max_deliver: 7,
    });
  });

  it('keep the duplicate window within max age', () => {
    const config = loadConfig({ env: { SDBOT_JOB_MAX_AGE: '1m', SDBOT_DUPLICATE_WINDOW: '20m' } });
    expect(desiredStreams(config).jobs.duplicate_window).toBe(nanos(60_000));
  });
});

describe('imagine output paths', () => {
  it('writes FILE for one image and FILE-i.png for several', () => {
    expect(outputPaths('out.png', 1)).toEqual(['out.png']);
    expect(outputPaths('out.png', 3)).toEqual(['out-0.png', 'out-1.png', 'out-2.png']);
    expect(outputPaths('art', 2)).toEqual(['art-0.png', 'art-1.png']);
  });
});
