/**
 * Counts what the processes of a benchmark send to NATS, by kind, by wrapping their connections'
 * request and publish calls: every request is a round trip (JetStream publishes, API calls and
 * direct gets are all requests) and a message; a publish or respond is one message.
 */
import type { NatsConnection } from '@sdbot/shared';

export const TRAFFIC_KINDS = [
  'round trips',
  'messages published (incl. requests)',
  'JetStream API calls',
  'KV reads',
  'KV writes',
  'stream publishes (backlog, jobs, results)',
  'object-store reads',
  'object-store writes',
] as const;
export type TrafficKind = (typeof TRAFFIC_KINDS)[number];
export type TrafficCounts = Record<TrafficKind, number>;

function emptyCounts(): TrafficCounts {
  return Object.fromEntries(TRAFFIC_KINDS.map((kind) => [kind, 0])) as TrafficCounts;
}

/** The kinds one request on `subject` counts as (besides a round trip and a message). */
function requestKinds(subject: string): TrafficKind[] {
  if (subject.startsWith('$KV.')) return ['KV writes'];
  if (subject.startsWith('$O.')) return ['object-store writes'];
  if (subject.startsWith('$JS.API.DIRECT.GET.KV_')) return ['KV reads'];
  if (subject.startsWith('$JS.API.DIRECT.GET.OBJ_')) return ['object-store reads'];
  if (subject.startsWith('$JS.API.')) {
    return subject.includes('.OBJ_')
      ? ['JetStream API calls', 'object-store reads']
      : ['JetStream API calls'];
  }
  return ['stream publishes (backlog, jobs, results)'];
}

export class NatsTraffic {
  private counts = emptyCounts();

  /** Starts counting what `connections` send from now on. */
  watch(connections: readonly NatsConnection[]): void {
    for (const connection of connections) {
      const target = connection as unknown as Record<string, (...args: unknown[]) => unknown>;
      const request = target.request?.bind(connection);
      const publish = target.publish?.bind(connection);
      const respond = target.respondMessage?.bind(connection);
      if (request === undefined || publish === undefined) throw new Error('not a NATS connection');
      target.request = (subject: unknown, ...rest: unknown[]) => {
        // The request's own message is counted by the publish it makes.
        this.counts['round trips'] += 1;
        for (const kind of requestKinds(String(subject))) this.counts[kind] += 1;
        return request(subject, ...rest);
      };
      target.publish = (subject: unknown, ...rest: unknown[]) => {
        this.counts['messages published (incl. requests)'] += 1;
        return publish(subject, ...rest);
      };
      if (respond !== undefined) {
        target.respondMessage = (...args: unknown[]) => {
          this.counts['messages published (incl. requests)'] += 1;
          return respond(...args);
        };
      }
    }
  }

  /** Counts since the last reset, then starts again from zero. */
  take(): TrafficCounts {
    const counts = this.counts;
    this.counts = emptyCounts();
    return counts;
  }
}

export function addTraffic(a: TrafficCounts, b: TrafficCounts): TrafficCounts {
  return Object.fromEntries(TRAFFIC_KINDS.map((kind) => [kind, a[kind] + b[kind]])) as TrafficCounts;
}
