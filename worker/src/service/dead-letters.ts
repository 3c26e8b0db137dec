/**
 * Dead letters: jobs no worker can process are copied, with the reason, to the dead-letter stream
 * before they leave the work queue, so an operator can see why (`sdbot status`) and replay them.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import {
  LIMITS,
  SUBJECTS,
  deadLetterSchema,
  encodeMessage,
  natsFailure,
  type DeadLetter,
  type ErrorCode,
} from '@sdbot/shared';

/** Dead letters keep at most this much of the original payload. */
const PAYLOAD_MAX_BYTES = 64 * 1024;
const REASON_MAX_CHARS = 2000;

export interface DeadLetterInput {
  /** Subject the job was published on. */
  subject: string;
  /** Model of the consumer the job came from (its subject's last token). */
  model: string;
  data: Uint8Array;
  jobId: string | null;
  code: ErrorCode;
  reason: string;
  deliveries: number;
  /** Sequence of the job in the jobs stream: de-duplicates a dead letter written twice. */
  streamSeq: number;
  workerId?: string;
}

/**
 * The job id of a payload that failed validation, if one can be found: its `id` field, else the
 * Nats-Msg-Id it was published with (which is the job id by convention).
 */
export function jobIdOf(data: Uint8Array, msgId: string | undefined): string | null {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(data));
    if (typeof parsed === 'object' && parsed !== null && 'id' in parsed) {
      const id = parsed.id;
      if (typeof id === 'string' && LIMITS.idPattern.test(id)) return id;
    }
  } catch {
    // Not JSON: fall back to the message id.
  }
  return msgId !== undefined && LIMITS.idPattern.test(msgId) ? msgId : null;
}

export async function publishDeadLetter(js: JetStreamClient, input: DeadLetterInput): Promise<DeadLetter> {
  const letter: DeadLetter = {
    v: 1,
    jobId: input.jobId,
    model: LIMITS.idPattern.test(input.model) ? input.model : null,
    code: input.code,
    reason: input.reason.slice(0, REASON_MAX_CHARS) || input.code,
    deliveries: input.deliveries,
    subject: input.subject,
    payload: Buffer.from(input.data.subarray(0, PAYLOAD_MAX_BYTES)).toString('base64'),
    at: Date.now(),
  };
  if (input.workerId !== undefined) letter.workerId = input.workerId;
  try {
    await js.publish(SUBJECTS.deadLetter(input.model), encodeMessage(deadLetterSchema, letter), {
      msgID: `job-seq-${input.streamSeq}`,
    });
  } catch (error) {
    throw natsFailure(error, `dead-lettering job ${input.jobId ?? `#${input.streamSeq}`}`);
  }
  return letter;
}
