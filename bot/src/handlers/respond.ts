/**
 * Answering interactions in whatever state they are in. Several bot replicas receive the same
 * interaction; the one whose first answer Discord accepts handles it, the others stop quietly.
 */
import { MessageFlags, type ButtonInteraction, type RepliableInteraction } from 'discord.js';
import { isAlreadyAnswered } from '../service/discord.js';

/** Interactions another replica answered first; this one left them alone. */
const answeredElsewhere = new WeakSet<RepliableInteraction>();

export function wasAnsweredElsewhere(interaction: RepliableInteraction): boolean {
  return answeredElsewhere.has(interaction);
}

/**
 * Runs the first answer to an interaction. Resolves false when another replica answered first
 * (or Discord no longer knows the interaction): the caller then stops.
 */
async function firstAnswer(
  interaction: RepliableInteraction,
  answer: () => Promise<unknown>,
): Promise<boolean> {
  try {
    await answer();
    return true;
  } catch (error) {
    if (!isAlreadyAnswered(error)) throw error;
    answeredElsewhere.add(interaction);
    return false;
  }
}

/** "Thinking..." visible to everyone: the reply that will show progress and the result. */
export function deferPublicly(interaction: RepliableInteraction): Promise<boolean> {
  return firstAnswer(interaction, () => interaction.deferReply());
}

/** "Thinking..." only the user sees. */
export function deferPrivately(interaction: RepliableInteraction): Promise<boolean> {
  return firstAnswer(interaction, () => interaction.deferReply({ flags: MessageFlags.Ephemeral }));
}

/** Acknowledges a button without changing its message yet. */
export function deferButton(interaction: ButtonInteraction): Promise<boolean> {
  return firstAnswer(interaction, () => interaction.deferUpdate());
}

/** Answers only the user, whatever was answered before. */
export async function answerPrivately(interaction: RepliableInteraction, content: string): Promise<void> {
  const text = { content, allowedMentions: { parse: [] } };
  if (!interaction.deferred && !interaction.replied) {
    await firstAnswer(interaction, () => interaction.reply({ ...text, flags: MessageFlags.Ephemeral }));
    return;
  }
  if (interaction.ephemeral === true) {
    await interaction.editReply(text);
    return;
  }
  // A public "thinking..." reply would turn the first follow-up public: remove it first.
  if (interaction.ephemeral === false) await interaction.deleteReply();
  await interaction.followUp({ ...text, flags: MessageFlags.Ephemeral });
}
