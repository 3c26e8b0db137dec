/**
 * What Discord validates in message payloads (content, embeds, components, attachments), with its
 * error codes and messages, so a bot that breaks a limit gets the 50035 answer it would get live.
 */
import {
  ButtonStyle,
  ComponentType,
  MessageFlags,
  type APIEmbed,
  type APIMessageTopLevelComponent,
} from 'discord.js';
import { DiscordHttpError, FormErrors, type FormErrorPath } from './errors.js';

export type JsonObject = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Discord counts characters (code points), not UTF-16 units. */
export function characters(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

/** A value as Discord quotes it in error messages. */
function quoted(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

interface LengthRule {
  min?: number;
  max?: number;
  required?: boolean;
}

/** Reads typed fields out of untrusted JSON, recording Discord-style errors for bad ones. */
export class PayloadChecker {
  readonly errors = new FormErrors();

  record(value: unknown, path: FormErrorPath, required = false): JsonObject | undefined {
    if (value === undefined || value === null) {
      this.#requireIf(path, required);
      return undefined;
    }
    if (isRecord(value)) return value;
    this.errors.add(path, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
    return undefined;
  }

  string(value: unknown, path: FormErrorPath, rule: LengthRule = {}): string | undefined {
    if (value === undefined || value === null) {
      this.#requireIf(path, rule.required ?? false);
      return undefined;
    }
    if (typeof value !== 'string') {
      this.errors.add(path, 'STRING_TYPE_CONVERT', `Could not interpret ${quoted(value)} as string.`);
      return undefined;
    }
    this.#checkLength(characters(value), path, rule);
    return value;
  }

  integer(
    value: unknown,
    path: FormErrorPath,
    rule: { min?: number; max?: number; required?: boolean } = {},
  ): number | undefined {
    if (value === undefined || value === null) {
      this.#requireIf(path, rule.required ?? false);
      return undefined;
    }
    const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isInteger(number)) {
      this.errors.add(path, 'NUMBER_TYPE_COERCE', `Value ${quoted(value)} is not int.`);
      return undefined;
    }
    if (rule.min !== undefined && number < rule.min) {
      this.errors.add(path, 'NUMBER_TYPE_MIN', `int value should be greater than or equal to ${rule.min}.`);
    } else if (rule.max !== undefined && number > rule.max) {
      this.errors.add(path, 'NUMBER_TYPE_MAX', `int value should be less than or equal to ${rule.max}.`);
    }
    return number;
  }

  number(value: unknown, path: FormErrorPath, required = false): number | undefined {
    if (value === undefined || value === null) {
      this.#requireIf(path, required);
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.errors.add(path, 'NUMBER_TYPE_COERCE', `Value ${quoted(value)} is not a valid number.`);
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, path: FormErrorPath): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.errors.add(path, 'BOOLEAN_TYPE_CONVERT', `Could not interpret ${quoted(value)} as boolean.`);
      return undefined;
    }
    return value;
  }

  array(value: unknown, path: FormErrorPath, rule: LengthRule = {}): unknown[] | undefined {
    if (value === undefined || value === null) {
      this.#requireIf(path, rule.required ?? false);
      return undefined;
    }
    if (!Array.isArray(value)) {
      this.errors.add(path, 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
      return undefined;
    }
    const list: unknown[] = value;
    this.#checkLength(list.length, path, rule);
    return list;
  }

  oneOf<T extends number>(
    value: unknown,
    path: FormErrorPath,
    choices: readonly T[],
    required = false,
  ): T | undefined {
    if (value === undefined || value === null) {
      this.#requireIf(path, required);
      return undefined;
    }
    if (typeof value !== 'number' || !choices.includes(value as T)) {
      this.errors.add(path, 'BASE_TYPE_CHOICES', `Value must be one of {${choices.join(', ')}}.`);
      return undefined;
    }
    return value as T;
  }

  fail(path: FormErrorPath, code: string, message: string): void {
    this.errors.add(path, code, message);
  }

  #requireIf(path: FormErrorPath, required: boolean): void {
    if (required) this.errors.add(path, 'BASE_TYPE_REQUIRED', 'This field is required');
  }

  #checkLength(length: number, path: FormErrorPath, { min, max }: LengthRule): void {
    if (min !== undefined && max !== undefined && min > 0) {
      if (length < min || length > max) {
        this.errors.add(path, 'BASE_TYPE_BAD_LENGTH', `Must be between ${min} and ${max} in length.`);
      }
    } else if (max !== undefined && length > max) {
      this.errors.add(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
    } else if (min !== undefined && length < min) {
      this.errors.add(path, 'BASE_TYPE_MIN_LENGTH', `Must be ${min} or more in length.`);
    }
  }
}

export const MESSAGE_LIMITS = {
  content: 2000,
  embeds: 10,
  embedTotalCharacters: 6000,
  actionRows: 5,
  componentsPerRow: 5,
  componentsV2Total: 40,
  customId: 100,
  attachments: 10,
  nonce: 25,
} as const;

/** A file part of a multipart request. */
export interface UploadedFile {
  /** The form field, `files[n]` as discord.js names them. */
  field: string;
  filename: string;
  contentType: string | undefined;
  data: Buffer;
}

export interface AttachmentReference {
  /** An existing attachment's id, or the n of an uploaded `files[n]`. */
  id: string;
  filename: string | undefined;
  description: string | undefined;
  title: string | undefined;
}

export interface MessagePayload {
  content?: string;
  embeds?: APIEmbed[];
  components?: APIMessageTopLevelComponent[];
  /** Present when the payload lists which attachments the message keeps or gets. */
  attachments?: AttachmentReference[];
  flags?: number;
  tts?: boolean;
  /** The message this one replies to. */
  messageReference?: string;
  /** Client-chosen id (an integer or a string of at most 25 characters), echoed back. */
  nonce?: string;
  /** With a nonce: return the author's recent message with the same nonce instead of a new one. */
  enforceNonce?: boolean;
  hasStickersOrPoll: boolean;
}

const SELECT_MENU_TYPES: readonly number[] = [
  ComponentType.StringSelect,
  ComponentType.UserSelect,
  ComponentType.RoleSelect,
  ComponentType.MentionableSelect,
  ComponentType.ChannelSelect,
];

/**
 * Checks a message payload (create, edit, interaction response or follow-up) and returns its
 * fields; throws 400 Invalid Form Body listing every problem, as Discord does.
 */
export function validateMessagePayload(body: unknown, uploads: readonly UploadedFile[]): MessagePayload {
  const check = new PayloadChecker();
  const payload = check.record(body, [], true) ?? {};
  const result: MessagePayload = { hasStickersOrPoll: false };

  const flags = check.integer(payload.flags, ['flags'], { min: 0 });
  if (flags !== undefined) result.flags = flags;
  const componentsV2 = ((flags ?? 0) & MessageFlags.IsComponentsV2) !== 0;

  const content = check.string(payload.content, ['content'], { max: MESSAGE_LIMITS.content });
  if (content !== undefined) result.content = content;
  if (payload.content === null) result.content = '';

  const tts = check.boolean(payload.tts, ['tts']);
  if (tts !== undefined) result.tts = tts;

  const nonce = payload.nonce;
  if (typeof nonce === 'number') {
    if (Number.isInteger(nonce)) result.nonce = String(nonce);
    else check.fail(['nonce'], 'NUMBER_TYPE_COERCE', `Value ${String(nonce)} is not int.`);
  } else {
    const text = check.string(nonce, ['nonce'], { max: MESSAGE_LIMITS.nonce });
    if (text !== undefined) result.nonce = text;
  }
  const enforceNonce = check.boolean(payload.enforce_nonce, ['enforce_nonce']);
  if (enforceNonce !== undefined) result.enforceNonce = enforceNonce;

  const reference = check.record(payload.message_reference, ['message_reference']);
  const referencedId = check.string(reference?.message_id, ['message_reference', 'message_id'], {
    required: reference !== undefined,
  });
  if (referencedId !== undefined) result.messageReference = referencedId;

  const embeds = check.array(payload.embeds, ['embeds'], { max: MESSAGE_LIMITS.embeds });
  if (embeds) {
    result.embeds = embeds.filter((embed, index) =>
      checkEmbed(check, embed, ['embeds', index]),
    ) as APIEmbed[];
  }
  if (payload.embeds === null) result.embeds = [];

  if (componentsV2 && (content || (embeds?.length ?? 0) > 0)) {
    check.fail(
      [content ? 'content' : 'embeds'],
      'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2',
      "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
    );
  }

  const components = check.array(payload.components, ['components'], {
    max: componentsV2 ? MESSAGE_LIMITS.componentsV2Total : MESSAGE_LIMITS.actionRows,
  });
  if (components) {
    if (componentsV2) checkComponentsV2(check, components);
    else {
      components.forEach((row, index) => {
        checkActionRow(check, row, ['components', index]);
      });
    }
    checkUniqueCustomIds(check, components);
    result.components = components as APIMessageTopLevelComponent[];
  }
  if (payload.components === null) result.components = [];

  const attachments = check.array(payload.attachments, ['attachments'], { max: MESSAGE_LIMITS.attachments });
  if (attachments) {
    result.attachments = attachments.flatMap((entry, index): AttachmentReference[] => {
      const record = check.record(entry, ['attachments', index], true);
      if (!record) return [];
      const id = record.id;
      if (typeof id !== 'string' && typeof id !== 'number') {
        check.fail(['attachments', index, 'id'], 'BASE_TYPE_REQUIRED', 'This field is required');
        return [];
      }
      return [
        {
          id: String(id),
          filename: check.string(record.filename, ['attachments', index, 'filename'], { max: 1024 }),
          description: check.string(record.description, ['attachments', index, 'description'], { max: 1024 }),
          title: check.string(record.title, ['attachments', index, 'title'], { max: 1024 }),
        },
      ];
    });
  }
  if (
    uploads.length > MESSAGE_LIMITS.attachments &&
    (attachments?.length ?? 0) <= MESSAGE_LIMITS.attachments
  ) {
    check.fail(
      ['attachments'],
      'BASE_TYPE_MAX_LENGTH',
      `Must be ${MESSAGE_LIMITS.attachments} or fewer in length.`,
    );
  }

  result.hasStickersOrPoll =
    (Array.isArray(payload.sticker_ids) && payload.sticker_ids.length > 0) || isRecord(payload.poll);
  check.errors.throwIfAny();
  return result;
}

function checkEmbed(check: PayloadChecker, value: unknown, path: FormErrorPath): boolean {
  const embed = check.record(value, path, true);
  if (!embed) return false;
  let total = 0;
  const text = (field: unknown, fieldPath: FormErrorPath, max: number, required = false): void => {
    const checked = check.string(field, fieldPath, { max, required });
    if (checked) total += characters(checked);
  };
  text(embed.title, [...path, 'title'], 256);
  text(embed.description, [...path, 'description'], 4096);
  const footer = check.record(embed.footer, [...path, 'footer']);
  if (footer) text(footer.text, [...path, 'footer', 'text'], 2048, true);
  const author = check.record(embed.author, [...path, 'author']);
  if (author) text(author.name, [...path, 'author', 'name'], 256, true);
  const fields = check.array(embed.fields, [...path, 'fields'], { max: 25 });
  fields?.forEach((field, index) => {
    const record = check.record(field, [...path, 'fields', index], true);
    if (!record) return;
    text(record.name, [...path, 'fields', index, 'name'], 256, true);
    text(record.value, [...path, 'fields', index, 'value'], 1024, true);
  });
  if (total > MESSAGE_LIMITS.embedTotalCharacters) {
    check.fail(
      path,
      'MAX_EMBED_SIZE_EXCEEDED',
      `Embed size exceeds maximum size of ${MESSAGE_LIMITS.embedTotalCharacters}`,
    );
  }
  return true;
}

function checkCustomId(check: PayloadChecker, value: unknown, path: FormErrorPath, required: boolean): void {
  check.string(value, [...path, 'custom_id'], { min: 1, max: MESSAGE_LIMITS.customId, required });
}

function checkActionRow(check: PayloadChecker, value: unknown, path: FormErrorPath): void {
  const row = check.record(value, path, true);
  if (!row) return;
  if (row.type !== ComponentType.ActionRow) {
    check.fail([...path, 'type'], 'BASE_TYPE_CHOICES', `Value must be one of {${ComponentType.ActionRow}}.`);
    return;
  }
  const children = check.array(row.components, [...path, 'components'], {
    min: 1,
    max: MESSAGE_LIMITS.componentsPerRow,
    required: true,
  });
  if (!children) return;
  const hasSelect = children.some(
    (child) => isRecord(child) && SELECT_MENU_TYPES.includes(Number(child.type)),
  );
  if (hasSelect && children.length > 1) {
    check.fail(
      [...path, 'components'],
      'COMPONENT_LAYOUT_WIDTH_EXCEEDED',
      'The specified component exceeds the maximum width',
    );
  }
  children.forEach((child, index) => {
    checkInteractiveComponent(check, child, [...path, 'components', index]);
  });
}

function checkInteractiveComponent(check: PayloadChecker, value: unknown, path: FormErrorPath): void {
  const component = check.record(value, path, true);
  if (!component) return;
  if (component.type === ComponentType.Button) {
    checkButton(check, component, path);
  } else if (SELECT_MENU_TYPES.includes(Number(component.type))) {
    checkSelectMenu(check, component, path);
  } else {
    check.fail(
      [...path, 'type'],
      'BASE_TYPE_CHOICES',
      `Value must be one of {${[ComponentType.Button, ...SELECT_MENU_TYPES].join(', ')}}.`,
    );
  }
}

function checkButton(check: PayloadChecker, button: JsonObject, path: FormErrorPath): void {
  const style = check.oneOf(
    button.style,
    [...path, 'style'],
    [
      ButtonStyle.Primary,
      ButtonStyle.Secondary,
      ButtonStyle.Success,
      ButtonStyle.Danger,
      ButtonStyle.Link,
      ButtonStyle.Premium,
    ],
    true,
  );
  check.string(button.label, [...path, 'label'], { max: 80 });
  check.boolean(button.disabled, [...path, 'disabled']);
  if (style === ButtonStyle.Link) {
    check.string(button.url, [...path, 'url'], { max: 512, required: true });
    if (button.custom_id !== undefined) {
      check.fail(
        [...path, 'custom_id'],
        'BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED',
        'Link buttons cannot have a custom id',
      );
    }
  } else if (style === ButtonStyle.Premium) {
    check.string(button.sku_id, [...path, 'sku_id'], { required: true });
  } else if (style !== undefined) {
    checkCustomId(check, button.custom_id, path, true);
    if (button.url !== undefined) {
      check.fail([...path, 'url'], 'BUTTON_COMPONENT_URL_NOT_ALLOWED', 'Only link buttons can have a url');
    }
  }
  if (style !== ButtonStyle.Premium && button.label === undefined && button.emoji === undefined) {
    check.fail(
      [...path, 'label'],
      'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED',
      'A label or an emoji is required',
    );
  }
}

function checkSelectMenu(check: PayloadChecker, menu: JsonObject, path: FormErrorPath): void {
  checkCustomId(check, menu.custom_id, path, true);
  check.string(menu.placeholder, [...path, 'placeholder'], { max: 150 });
  check.integer(menu.min_values, [...path, 'min_values'], { min: 0, max: 25 });
  check.integer(menu.max_values, [...path, 'max_values'], { min: 1, max: 25 });
  if (menu.type !== ComponentType.StringSelect) return;
  const options = check.array(menu.options, [...path, 'options'], { min: 1, max: 25, required: true });
  options?.forEach((option, index) => {
    const record = check.record(option, [...path, 'options', index], true);
    if (!record) return;
    check.string(record.label, [...path, 'options', index, 'label'], { min: 1, max: 100, required: true });
    check.string(record.value, [...path, 'options', index, 'value'], { min: 1, max: 100, required: true });
    check.string(record.description, [...path, 'options', index, 'description'], { max: 100 });
  });
}

/** Components v2 layouts are accepted as long as their interactive parts are valid. */
function checkComponentsV2(check: PayloadChecker, components: readonly unknown[]): void {
  let total = 0;
  visitComponents(components, ['components'], (component, path) => {
    total += 1;
    if (component.type === ComponentType.Button || SELECT_MENU_TYPES.includes(Number(component.type))) {
      checkInteractiveComponent(check, component, path);
    }
  });
  if (total > MESSAGE_LIMITS.componentsV2Total) {
    check.fail(
      ['components'],
      'BASE_TYPE_MAX_LENGTH',
      `Must be ${MESSAGE_LIMITS.componentsV2Total} or fewer in length.`,
    );
  }
}

function checkUniqueCustomIds(check: PayloadChecker, components: readonly unknown[]): void {
  const seen = new Set<string>();
  visitComponents(components, ['components'], (component, path) => {
    if (typeof component.custom_id !== 'string') return;
    if (seen.has(component.custom_id)) {
      check.fail(
        [...path, 'custom_id'],
        'COMPONENT_CUSTOM_ID_DUPLICATED',
        'Component custom id cannot be duplicated',
      );
    }
    seen.add(component.custom_id);
  });
}

/** Walks a component tree: rows, containers and sections nest children in `components`; sections and labels hold one in `accessory` / `component`. */
export function visitComponents(
  components: readonly unknown[],
  path: FormErrorPath,
  visit: (component: JsonObject, path: FormErrorPath) => void,
): void {
  components.forEach((value, index) => {
    visitComponent(value, [...path, index], visit);
  });
}

function visitComponent(
  value: unknown,
  path: FormErrorPath,
  visit: (component: JsonObject, path: FormErrorPath) => void,
): void {
  if (!isRecord(value)) return;
  visit(value, path);
  if (Array.isArray(value.components)) visitComponents(value.components, [...path, 'components'], visit);
  visitComponent(value.accessory, [...path, 'accessory'], visit);
  visitComponent(value.component, [...path, 'component'], visit);
}

/** Throws 50006 for a new message with nothing in it. */
export function requireNonEmpty(payload: MessagePayload, uploads: readonly UploadedFile[]): void {
  const empty =
    !payload.content &&
    (payload.embeds?.length ?? 0) === 0 &&
    (payload.components?.length ?? 0) === 0 &&
    uploads.length === 0 &&
    !payload.hasStickersOrPoll;
  if (empty) throw DiscordHttpError.emptyMessage();
}
