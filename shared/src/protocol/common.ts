import { z } from 'zod';
import { describeValue, identifier, nonNegativeInteger, oneOf, textUpTo } from './fields.js';

/**
 * Protocol version of every message on NATS. Bump it when a message changes meaning; a process
 * refuses messages with a version it does not know instead of guessing.
 */
export const PROTOCOL_VERSION = 1;

export const versionField = z.literal(PROTOCOL_VERSION, {
  error: (issue) =>
    `must be ${PROTOCOL_VERSION}, the protocol version this process speaks (got ${describeValue(issue.input)})`,
});

export const IMAGE_CONTENT_TYPES = ['image/png', 'image/webp', 'image/jpeg'] as const;

/** Pointer to an object in a JetStream object store: images never travel inside messages. */
export const objectRefSchema = z.object({
  store: identifier('object store name'),
  name: textUpTo(255, { allowEmpty: false }),
  size: nonNegativeInteger(),
  contentType: oneOf(IMAGE_CONTENT_TYPES),
});
export type ObjectRef = z.infer<typeof objectRefSchema>;
