export {
  ERROR_CODES,
  errorCodes,
  SdbotError,
  ValidationError,
  ConfigError,
  ProtocolError,
  RateLimitError,
  CancelledError,
  toSdbotError,
  type ErrorCode,
  type SdbotErrorOptions,
  type ValidationIssue,
} from './errors.js';
export { LIMITS, rangeText } from './limits.js';
export {
  PROMPT_SYNTAXES,
  DEFAULT_PROMPT_SYNTAX,
  unsupportedPromptConstructs,
  unsupportedPromptNotice,
  promptCutNotice,
  type PromptSyntax,
} from './prompt-syntax.js';
export {
  SUBJECT_ROOT,
  STATE_REVISION_HEADER,
  STREAMS,
  KV_BUCKETS,
  OBJECT_STORES,
  SUBJECTS,
  jobConsumerName,
  backlogConsumerName,
  requesterLane,
  DM_LANE,
  CLI_LANE,
  maxDeliveriesAdvisorySubject,
  workerKey,
  jobStateKey,
  kvStreamName,
  kvSubject,
  imageObjectName,
  previewObjectName,
  sourceObjectName,
  INBOX_PREFIXES,
  ADVISORY_QUEUE_GROUP,
  type NatsRole,
} from './names.js';
// Every schema, message type and codec, listed once in the protocol barrel.
export * from './protocol.js';
export {
  deliveryRecordSchema,
  instanceRecordSchema,
  type DeliveryRecord,
  type InstanceRecord,
} from './protocol/delivery.js';
export {
  completeJob,
  deriveJob,
  randomSeed,
  type JobDerivation,
  type JobDraft,
  type JobDraftInput,
  type JobIdentity,
  type SourceImage,
} from './jobs/draft.js';
export { configuredJobDefaults, DEFAULT_IMAGE_SIDE, type ConfiguredJobDefaults } from './jobs/defaults.js';
export {
  CONFIG_SPEC,
  CONFIG_FILE_VARIABLE,
  listConfigVariables,
  parseDuration,
  type Config,
  type ConfigVariableInfo,
} from './config.js';
export { loadConfig, type LoadConfigOptions } from './config/load.js';
export { redactConfig } from './config/redact.js';
export {
  createLogger,
  resolveLogFormat,
  useColour,
  redactText,
  redactValue,
  REDACTED,
  type Logger,
  type CreateLoggerOptions,
} from './logger.js';
export { LOG_EVENTS, LOG_EVENT_NAMES, type LogEvent } from './log-events.js';
export { connectNats, type ConnectNatsOptions, type NatsConnection } from './nats.js';
export { isMissingResource, isPermissionViolation, isRevisionConflict, natsFailure } from './nats/errors.js';
export {
  compareAndSet,
  ContentionError,
  readEntry,
  readValue,
  type CompareAndSet,
  type CompareAndSetResult,
  type KnownValue,
} from './nats/cas.js';
export {
  DEFAULT_RETRY_WINDOW_MS,
  isTransientNatsError,
  withNatsRetry,
  type NatsRetryOptions,
} from './nats/retry.js';
export { installProcessGuards, UNHANDLED_EXIT_CODE } from './cli/process-guard.js';
export { openPreviewStore, putPreview } from './nats/previews.js';
export { createObject, type CreateObjectOptions } from './nats/object-create.js';
export { readStoredOutcome } from './nats/stored-outcome.js';
export {
  JETSTREAM_RESOURCES,
  JOB_FLOW_RESOURCES,
  REQUESTER_RESOURCES,
  HEARTBEATS_PER_TTL,
  PREVIEW_MAX_AGE_MS,
  desiredStreams,
  jobConsumerConfig,
  backlogConsumerConfig,
  KV_RESOURCES,
  RATE_LIMIT_STATE_TTL_MS,
  objectStoreStreamName,
  provisionJetStream,
  type KvResource,
  type JetStreamResource,
  type ProvisionOptions,
  type ProvisionReport,
} from './nats/provision.js';
export {
  JobStateStore,
  WorkerRegistry,
  openBucket,
  openProvisionedBucket,
  isTerminalStatus,
  type JobStateEntry,
  type JobStateChange,
  type TransitionOptions,
} from './nats/kv.js';
export {
  JobsClient,
  newJobId,
  type SubmittedJob,
  type AwaitOutcomeOptions,
  type JobsClientOptions,
} from './nats/jobs-client.js';
export type { QueuePosition } from './nats/queue-position.js';
export { FairDispatcher, type FairDispatcherOptions } from './nats/fair-dispatcher.js';
export { removeFromBacklog, type MovedJob } from './nats/backlog-removal.js';
export { estimateBacklogAhead, nextLane, queueTarget, roomFor, takeTurns } from './nats/dispatch-rotation.js';
export {
  collectStatus,
  type JobSystemStatus,
  type ModelQueue,
  type DeadLetterSummary,
} from './nats/status.js';
export { JobsClientMetrics } from './nats/client-metrics.js';
export { startMetricsServer, type MetricsServer, type MetricsServerOptions } from './metrics.js';
export {
  counter,
  declareMetrics,
  gauge,
  histogram,
  metricsInOwnRegistry,
  type DeclaredMetrics,
  type MetricSpec,
  type MetricTable,
  type RegistryMetrics,
} from './metric-table.js';
export {
  UsageError,
  parseCommandArgs,
  formatCommandHelp,
  stringOption,
  stringListOption,
  numberOption,
  schemaOption,
  valueFlag,
  type CommandDefinition,
  type CommandManifestEntry,
  type CommandContext,
  type CommandIO,
  type OptionSpec,
  type OptionSpecs,
  type ParsedOptions,
} from './cli/command.js';
export { runCli, discoverCommands, EXIT } from './cli/main.js';
export { registerSystemMetrics, type SystemMetricsOptions } from './nats/system-metrics.js';
export { runService, type RunningService, type RunServiceOptions } from './cli/service-runner.js';
