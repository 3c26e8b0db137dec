/**
 * The bot's records in the deliveries KV bucket: a job whose outcome it still owes Discord, and a
 * heartbeat per bot instance (see the bot's delivery store for how they are used).
 */
import { z } from 'zod';
import { versionField } from './common.js';

export const deliveryRecordSchema = z.object({
  v: versionField,
  jobId: z.string().min(1),
  /** Null in direct messages. */
  guildId: z.string().nullable(),
  channelId: z.string().min(1),
  userId: z.string().min(1),
  /** The channel is age-restricted (the guild's NSFW policy may allow spoilered results there). */
  channelNsfw: z.boolean(),
  /** Largest attachment the interaction allows (attachment_size_limit). */
  attachmentLimit: z.number().int().positive(),
  /** When the interaction token stops working; later results go to the channel. */
  tokenExpiresAt: z.number().int(),
  /** Bot instance following the job. */
  owner: z.string().min(1),
  /** An instance posting the outcome right now; others leave it alone until the claim is stale. */
  claim: z.object({ by: z.string().min(1), at: z.number().int() }).optional(),
  createdAt: z.number().int(),
});
export type DeliveryRecord = z.infer<typeof deliveryRecordSchema>;

export const instanceRecordSchema = z.object({
  v: versionField,
  id: z.string().min(1),
  startedAt: z.number().int(),
  heartbeatAt: z.number().int(),
  /** Set by a clean shutdown: its jobs can be adopted at once. */
  stoppedAt: z.number().int().optional(),
});
export type InstanceRecord = z.infer<typeof instanceRecordSchema>;
