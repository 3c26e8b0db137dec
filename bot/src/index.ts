export { RequestRefusedError, REFUSAL_REASONS, userMessage, type RefusalReason } from './errors.js';
export {
  COMMAND_NAMES,
  IMAGINE_OPTIONS,
  SETTINGS_SUBCOMMANDS,
  commandDefinitions,
  slashCommandDefinitions,
} from './commands/definitions.js';
export { CONTEXT_MENU_NAMES, contextMenuDefinitions } from './commands/context-menu.js';
export { modelSuggestions, MAX_SUGGESTIONS, type ModelChoice } from './commands/autocomplete.js';
export {
  registerCommands,
  type RegisterCommandsOptions,
  type RegisteredCommands,
} from './commands/register.js';
export {
  collectPromptFlags,
  parsePromptFlags,
  FLAG_SPECS,
  KNOWN_FLAGS_TEXT,
  type ParsedPrompt,
  type PromptFlags,
  type PromptFlagName,
} from './prompt/flags.js';
export {
  buildJobRequest,
  checkImagineInput,
  jobDefaultsFromConfig,
  type ImagineOptions,
  type JobDefaults,
  type ImagineDraft,
  type JobRequestContext,
} from './prompt/job-request.js';
export {
  enforcePolicy,
  SERVER_POLICY,
  type ChannelRef,
  type PolicyContext,
  type PolicyRule,
} from './requests/policy.js';
export { findBannedWord } from './prompt/banned-words.js';
export {
  ASPECT_CHOICES,
  ASPECT_SIZE_STEP,
  DEFAULT_BASE_SIZE,
  MAX_ASPECT_RATIO,
  parseAspectRatio,
  sizeForAspect,
  otherSide,
  type AspectRatio,
  type SizeBudget,
} from './prompt/size.js';
export {
  RateLimiter,
  DEFAULT_SLOT_LEASE_MS,
  type ActiveJob,
  type RateLimiterOptions,
  type AcquireRequest,
  type AcquireResult,
  type RateLimitGrant,
  type SlotRef,
} from './ratelimit/limiter.js';
export {
  decide,
  effectiveLimits,
  RATE_LIMIT_REASONS,
  type RateLimitReason,
  type RateLimitRefusal,
  type RateLimits,
  type RateLimitOverrides,
} from './ratelimit/policy.js';
export {
  formatWait,
  tokensAt,
  msUntilToken,
  type BucketLimit,
  type BucketState,
} from './ratelimit/token-bucket.js';
export {
  GuildSettingsStore,
  defaultGuildSettings,
  DEFAULT_SETTINGS_AUTHOR,
  type SettingsChange,
  type SettingsStoreOptions,
} from './settings/store.js';
export {
  SETTING_SPECS,
  LIST_KEYS,
  applySetting,
  resetSetting,
  checkSettings,
  findSettingSpec,
  settingValue,
  settingsDefaultsFromConfig,
  type SettingSpec,
  type SettingsDefaults,
} from './settings/keys.js';
export {
  addBannedWords,
  removeBannedWords,
  allowChannel,
  disallowChannel,
  splitWordList,
} from './settings/lists.js';
export { formatSettingsView, formatBannedWords, formatChannels } from './settings/view.js';
export { composeGrid, tileOrigin, type GridImage } from './render/grid.js';
export {
  fitAttachment,
  formatBytes,
  DEFAULT_ATTACHMENT_LIMIT_BYTES,
  MIN_ATTACHMENT_LIMIT_BYTES,
  type FitOptions,
  type FittedAttachment,
  type AttachmentContentType,
} from './render/fit.js';
export { resultEmbed, formatDuration, EMBED_LIMITS, type ResultEmbedOptions } from './render/embed.js';
export {
  resultComponents,
  pendingComponents,
  singleImageComponents,
  type ButtonRow,
  type ResultButtonsOptions,
} from './render/components.js';
export {
  encodeCustomId,
  parseCustomId,
  CUSTOM_ID_PREFIX,
  CUSTOM_ID_MAX_CHARS,
  type ButtonAction,
  type ButtonActionType,
  type ParsedCustomId,
} from './render/custom-id.js';
export { startBot, type BotDeps, type BotHandle } from './service/bot.js';
export {
  createBotMetrics,
  type BotMetrics,
  type DeliveryRoute,
  type InteractionOutcome,
} from './service/metrics.js';
export {
  InteractionReply,
  INTERACTION_TOKEN_LIFETIME_MS,
  isAlreadyAnswered,
  isDeadReply,
  isPermanentDiscordFailure,
  tokenExpiry,
} from './service/discord.js';
export { DeliveryStore, type ClaimResult, type DeliveryStoreOptions } from './delivery/store.js';
export { ThrottledEditor, type ThrottledEditorOptions } from './delivery/throttled-editor.js';
export {
  failureText,
  failureView,
  progressView,
  queuedView,
  resultView,
  singleImageView,
  type OutgoingFile,
  type OutgoingMessage,
} from './delivery/views.js';
