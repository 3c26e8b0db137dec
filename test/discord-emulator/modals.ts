/**
 * What the bot sends back in interaction callbacks other than messages (autocomplete choices and
 * modals), and the submission a user produces by filling in a modal.
 */
import { ComponentType, type APIModalSubmissionComponent } from 'discord.js';
import { EmulatorUsageError } from './errors.js';
import { isRecord, PayloadChecker, visitComponents, type JsonObject } from './validation.js';

export function validateAutocompleteChoices(data: JsonObject | undefined): JsonObject[] {
  const check = new PayloadChecker();
  const choices = check.array(data?.choices, ['data', 'choices'], { max: 25, required: true }) ?? [];
  const result = choices.flatMap((choice, index) => {
    const record = check.record(choice, ['data', 'choices', index], true);
    if (!record) return [];
    check.string(record.name, ['data', 'choices', index, 'name'], { min: 1, max: 100, required: true });
    if (record.value === undefined)
      check.fail(['data', 'choices', index, 'value'], 'BASE_TYPE_REQUIRED', 'This field is required');
    return [record];
  });
  check.errors.throwIfAny();
  return result;
}

export function validateModal(data: JsonObject | undefined): JsonObject {
  const check = new PayloadChecker();
  const modal = check.record(data, ['data'], true) ?? {};
  check.string(modal.custom_id, ['data', 'custom_id'], { min: 1, max: 100, required: true });
  check.string(modal.title, ['data', 'title'], { min: 1, max: 45, required: true });
  const components =
    check.array(modal.components, ['data', 'components'], { min: 1, max: 5, required: true }) ?? [];
  visitComponents(components, ['data', 'components'], (component, path) => {
    if (component.type === ComponentType.TextInput) {
      check.string(component.custom_id, [...path, 'custom_id'], { min: 1, max: 100, required: true });
    }
  });
  check.errors.throwIfAny();
  return modal;
}

/** The submitted components, mirroring the modal's layout (action rows or labels). */
export function modalSubmission(
  modal: JsonObject,
  fields: Readonly<Record<string, string>>,
): APIModalSubmissionComponent[] {
  const layout = Array.isArray(modal.components) ? modal.components : [];
  const inputs: { customId: string; required: boolean }[] = [];
  visitComponents(layout, [], (component) => {
    if (component.type === ComponentType.TextInput && typeof component.custom_id === 'string') {
      inputs.push({ customId: component.custom_id, required: component.required !== false });
    }
  });
  for (const customId of Object.keys(fields)) {
    if (!inputs.some((input) => input.customId === customId)) {
      throw new EmulatorUsageError(
        `the modal has no text input "${customId}" (it has: ${inputs.map((i) => i.customId).join(', ')})`,
      );
    }
  }
  for (const input of inputs) {
    if (input.required && !fields[input.customId]) {
      throw new EmulatorUsageError(`the modal's text input "${input.customId}" is required`);
    }
  }
  return layout.filter(isRecord).flatMap((component): APIModalSubmissionComponent[] => {
    const textInput = (value: unknown) =>
      isRecord(value) && value.type === ComponentType.TextInput && typeof value.custom_id === 'string'
        ? {
            type: ComponentType.TextInput as const,
            custom_id: value.custom_id,
            value: fields[value.custom_id] ?? '',
          }
        : undefined;
    if (component.type === ComponentType.ActionRow && Array.isArray(component.components)) {
      const inputsInRow = component.components.map(textInput).filter((c) => c !== undefined);
      return [{ type: ComponentType.ActionRow, components: inputsInRow }];
    }
    if (component.type === ComponentType.Label) {
      const inner = textInput(component.component);
      return inner ? [{ type: ComponentType.Label, component: inner }] : [];
    }
    return [];
  });
}
