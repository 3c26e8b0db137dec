/**
 * Errors of the emulator. `DiscordHttpError` is an error response the emulated API sends (status,
 * Discord's JSON error code, message and, for form errors, the nested `errors` object);
 * `EmulatorUsageError` is a mistake in a test's use of the emulator (clicking a button a message
 * does not have, invoking an unregistered command).
 */

export interface FormErrorDetail {
  /** Discord's machine-readable reason, e.g. BASE_TYPE_MAX_LENGTH. */
  code: string;
  message: string;
}

export type FormErrorPath = readonly (string | number)[];

interface FormErrorNode {
  errors: FormErrorDetail[];
  children: Map<string, FormErrorNode>;
}

/** Collects field errors into Discord's `errors` shape: `{ components: { 0: { _errors: [...] } } }`. */
export class FormErrors {
  readonly #root: FormErrorNode = { errors: [], children: new Map() };
  #count = 0;

  add(path: FormErrorPath, code: string, message: string): void {
    let node = this.#root;
    for (const segment of path) {
      const key = String(segment);
      let child = node.children.get(key);
      if (!child) {
        child = { errors: [], children: new Map() };
        node.children.set(key, child);
      }
      node = child;
    }
    node.errors.push({ code, message });
    this.#count += 1;
  }

  get isEmpty(): boolean {
    return this.#count === 0;
  }

  toJSON(): Record<string, unknown> {
    return renderNode(this.#root);
  }

  /** Throws the 400 Invalid Form Body error when anything was added. */
  throwIfAny(): void {
    if (!this.isEmpty) throw DiscordHttpError.invalidFormBody(this);
  }
}

function renderNode(node: FormErrorNode): Record<string, unknown> {
  const rendered: Record<string, unknown> = {};
  for (const [key, child] of node.children) rendered[key] = renderNode(child);
  if (node.errors.length > 0) rendered._errors = node.errors;
  return rendered;
}

export interface DiscordErrorBody {
  message: string;
  code: number;
  errors?: Record<string, unknown>;
}

/** An error answer of the emulated API, sent exactly as Discord shapes it. */
export class DiscordHttpError extends Error {
  override name = 'DiscordHttpError';

  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: FormErrors,
  ) {
    super(message);
  }

  get body(): DiscordErrorBody {
    const body: DiscordErrorBody = { message: this.message, code: this.code };
    if (this.errors) body.errors = this.errors.toJSON();
    return body;
  }

  static invalidFormBody(errors: FormErrors): DiscordHttpError {
    return new DiscordHttpError(400, 50035, 'Invalid Form Body', errors);
  }

  static fieldError(path: FormErrorPath, code: string, message: string): DiscordHttpError {
    const errors = new FormErrors();
    errors.add(path, code, message);
    return DiscordHttpError.invalidFormBody(errors);
  }

  static invalidJson(): DiscordHttpError {
    return new DiscordHttpError(400, 50109, 'The request body contains invalid JSON.');
  }

  static emptyMessage(): DiscordHttpError {
    return new DiscordHttpError(400, 50006, 'Cannot send an empty message');
  }

  static unauthorized(): DiscordHttpError {
    return new DiscordHttpError(401, 0, '401: Unauthorized');
  }

  static invalidWebhookToken(): DiscordHttpError {
    return new DiscordHttpError(401, 50027, 'Invalid Webhook Token');
  }

  static missingAccess(): DiscordHttpError {
    return new DiscordHttpError(403, 50001, 'Missing Access');
  }

  static missingPermissions(): DiscordHttpError {
    return new DiscordHttpError(403, 50013, 'Missing Permissions');
  }

  static cannotEditOthersMessage(): DiscordHttpError {
    return new DiscordHttpError(403, 50005, 'Cannot edit a message authored by another user');
  }

  static notFound(): DiscordHttpError {
    return new DiscordHttpError(404, 0, '404: Not Found');
  }

  static methodNotAllowed(): DiscordHttpError {
    return new DiscordHttpError(405, 0, '405: Method Not Allowed');
  }

  static unknownChannel(): DiscordHttpError {
    return new DiscordHttpError(404, 10003, 'Unknown Channel');
  }

  static unknownGuild(): DiscordHttpError {
    return new DiscordHttpError(404, 10004, 'Unknown Guild');
  }

  static unknownMember(): DiscordHttpError {
    return new DiscordHttpError(404, 10007, 'Unknown Member');
  }

  static unknownMessage(): DiscordHttpError {
    return new DiscordHttpError(404, 10008, 'Unknown Message');
  }

  static unknownUser(): DiscordHttpError {
    return new DiscordHttpError(404, 10013, 'Unknown User');
  }

  static unknownWebhook(): DiscordHttpError {
    return new DiscordHttpError(404, 10015, 'Unknown Webhook');
  }

  static unknownInteraction(): DiscordHttpError {
    return new DiscordHttpError(404, 10062, 'Unknown interaction');
  }

  static unknownCommand(): DiscordHttpError {
    return new DiscordHttpError(404, 10063, 'Unknown application command');
  }

  static alreadyAcknowledged(): DiscordHttpError {
    return new DiscordHttpError(400, 40060, 'Interaction has already been acknowledged.');
  }

  static entityTooLarge(): DiscordHttpError {
    return new DiscordHttpError(413, 40005, 'Request entity too large');
  }
}

/** A test used the emulator in a way Discord's clients would not allow. */
export class EmulatorUsageError extends Error {
  override name = 'EmulatorUsageError';
}
