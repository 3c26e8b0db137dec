/**
 * The requests sent on `subject` (wildcards allowed) while a test runs, as the server routes them
 * to every subscriber: a connection sees its own requests and everyone else's.
 *   const reads = await watchRequests(connection, '$JS.API.DIRECT.GET.KV_sdbot-jobs.>');
 *   ... await connection.flush(); expect(reads.subjects).toEqual([]);
 */
import type { NatsConnection } from '@nats-io/transport-node';

export interface RequestWatch {
  /** The subject of each request seen, in order. */
  readonly subjects: string[];
  stop(): void;
}

export async function watchRequests(connection: NatsConnection, subject: string): Promise<RequestWatch> {
  const subjects: string[] = [];
  const subscription = connection.subscribe(subject, {
    callback: (_error, message) => {
      subjects.push(message.subject);
    },
  });
  // In place on the server before the test sends anything.
  await connection.flush();
  return {
    subjects,
    stop: () => {
      subscription.unsubscribe();
    },
  };
}
