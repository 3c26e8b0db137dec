/**
 * Discord API v10 emulator for end-to-end tests: REST + WebSocket gateway driving the real
 * discord.js client. See README "Discord API emulator".
 */
export { ManualClock, systemClock } from './clock.js';
export type { EmulatorClock } from './clock.js';
export { DiscordEmulator, startDiscordEmulator } from './emulator.js';
export type { CallPredicate, DiscordEmulatorOptions } from './emulator.js';
export { DiscordHttpError, EmulatorUsageError } from './errors.js';
export { FaultHandle } from './faults.js';
export type { FaultSpec, RouteCall, RouteMatcher } from './faults.js';
export { GATEWAY_PATH, RESUME_PATH } from './gateway.js';
export type { DropOptions, GatewayConnectionInfo, GatewayFrame } from './gateway.js';
export type { RecordedCall, RecordedFile } from './http.js';
export { EmulatorInteraction } from './interactions.js';
export type { CommandInvocation, CommandOptionValue, EmulatorUpload } from './command-options.js';
export type {
  ChooseFromSelectInput,
  InteractionContextInput,
  InteractionResponse,
  SendAutocompleteInput,
  SendCommandInput,
  SendMessageCommandInput,
  SubmitModalInput,
  UseComponentInput,
} from './interactions.js';
export { customIdsOf, findComponent } from './messages.js';
export type { EmulatorAttachment, EmulatorMessage, MessageKind } from './messages.js';
export { MESSAGE_LIMITS } from './validation.js';
export type {
  EmulatorChannel,
  EmulatorChannelInput,
  EmulatorGuild,
  EmulatorGuildInput,
  EmulatorMemberInput,
  EmulatorRole,
  EmulatorRoleInput,
  EmulatorUser,
  EmulatorUserInput,
  PermissionInput,
  PermissionName,
} from './world.js';
export type { PostUserMessageInput } from './user-messages.js';
