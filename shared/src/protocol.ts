/** The wire protocol: every NATS message schema, its inferred type, and the codec, one export each. */
export { PROTOCOL_VERSION, IMAGE_CONTENT_TYPES, objectRefSchema, type ObjectRef } from './protocol/common.js';
export { describeValue } from './protocol/fields.js';
export {
  JOB_KINDS,
  NSFW_HANDLING,
  SCHEDULER_NAMES,
  NOISE_SOURCES,
  REQUEST_SOURCES,
  createJobSchema,
  jobSchema,
  GENERATION_FIELDS,
  JOB_FIELDS,
  isGenerationJob,
  requesterSchema,
  sourceImageSchema,
  seedVariationSchema,
  hiresSchema,
  UPSCALE_FACTORS,
  type Hires,
  type JobKind,
  type NsfwHandling,
  type SchedulerName,
  type NoiseSource,
  type Requester,
  type Job,
  type JobInput,
  type GenerationJob,
  type GenerationParams,
  type UpscaleJob,
  type GenerationJobInput,
  type JobSchemaOptions,
} from './protocol/job.js';
export {
  SCHEDULERS,
  schedulerLabel,
  samplerName,
  parseSchedulerName,
  schedulerForSampler,
  type SchedulerNaming,
} from './protocol/schedulers.js';
export { progressSchema, type Progress } from './protocol/progress.js';
export {
  jobResultSchema,
  jobFailureSchema,
  jobOutcomeSchema,
  resultImageSchema,
  timingsSchema,
  type JobResult,
  type JobFailure,
  type JobOutcome,
  type ResultImage,
} from './protocol/outcome.js';
export {
  JOB_STATES,
  jobStatusSchema,
  jobStateRecordSchema,
  type JobStateName,
  type JobStatus,
  type JobStateRecord,
} from './protocol/state.js';
export {
  EXECUTION_PROVIDERS,
  workerHeartbeatSchema,
  type ExecutionProviderName,
  type WorkerHeartbeat,
} from './protocol/worker.js';
export {
  cancelRequestSchema,
  deadLetterSchema,
  type CancelRequest,
  type DeadLetter,
} from './protocol/control.js';
export {
  NSFW_POLICIES,
  channelDefaultsSchema,
  guildSettingsSchema,
  rateLimitOverridesSchema,
  type ChannelDefaults,
  type GuildSettings,
  type NsfwPolicy,
} from './protocol/settings.js';
export { userPreferencesSchema, type UserPreferences } from './protocol/preferences.js';
export { toValidationIssues, validate, encodeMessage, decodeMessage, parseOrNull } from './protocol/codec.js';
export {
  BASE_CAPABILITIES,
  WORKER_CAPABILITIES,
  announcedCapabilities,
  capabilityName,
  missingCapabilities,
  requiredCapabilities,
  type CapabilityNeeds,
} from './protocol/capabilities.js';
