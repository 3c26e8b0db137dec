/**
 * Button rows under a result (U1-U4, V1-V4, re-roll, delete) and under a job that is still queued
 * or running (cancel). Discord allows 5 rows of 5 buttons; these use at most 2 rows.
 */
import {
  ButtonStyle,
  ComponentType,
  type APIActionRowComponent,
  type APIButtonComponentWithCustomId,
} from 'discord.js';
import { LIMITS } from '@sdbot/shared';
import { encodeCustomId, type ButtonAction } from './custom-id.js';

export type ButtonRow = APIActionRowComponent<APIButtonComponentWithCustomId>;

function button(
  action: ButtonAction,
  style: ButtonStyle.Primary | ButtonStyle.Secondary | ButtonStyle.Danger,
  label: string,
  emoji?: string,
): APIButtonComponentWithCustomId {
  const component: APIButtonComponentWithCustomId = {
    type: ComponentType.Button,
    style,
    label,
    custom_id: encodeCustomId(action),
  };
  if (emoji !== undefined) component.emoji = { name: emoji };
  return component;
}

function row(components: APIButtonComponentWithCustomId[]): ButtonRow {
  return { type: ComponentType.ActionRow, components };
}

export interface ResultButtonsOptions {
  /** Offer U buttons (not on an image that is itself an upscale). */
  upscale?: boolean;
  /** Offer V buttons. */
  variation?: boolean;
  /** Indexes of images the safety filter withheld: their U and V buttons are disabled. */
  withheld?: readonly number[];
}

/** `[U1 U2 U3 U4 re-roll]` and `[V1 V2 V3 V4 delete]`, with as many U/V buttons as images. */
export function resultComponents(
  jobId: string,
  imageCount: number,
  { upscale = true, variation = true, withheld = [] }: ResultButtonsOptions = {},
): ButtonRow[] {
  if (!Number.isInteger(imageCount) || imageCount < LIMITS.count.min || imageCount > LIMITS.count.max) {
    throw new RangeError(`a result has 1 to ${LIMITS.count.max} images, not ${imageCount}`);
  }
  const indexes = Array.from({ length: imageCount }, (_, index) => index);
  const usable = (component: APIButtonComponentWithCustomId, index: number) =>
    withheld.includes(index) ? { ...component, disabled: true } : component;
  const upscales = upscale
    ? indexes.map((index) =>
        usable(button({ type: 'upscale', jobId, index }, ButtonStyle.Secondary, `U${index + 1}`), index),
      )
    : [];
  const variations = variation
    ? indexes.map((index) =>
        usable(button({ type: 'variation', jobId, index }, ButtonStyle.Secondary, `V${index + 1}`), index),
      )
    : [];
  const reroll = button({ type: 'reroll', jobId }, ButtonStyle.Primary, 'Re-roll', '🔄');
  const remove = button({ type: 'delete', jobId }, ButtonStyle.Danger, 'Delete', '🗑️');
  return [
    [...upscales, reroll],
    [...variations, remove],
  ].map(row);
}

/** The row under a queued or running job. */
export function pendingComponents(jobId: string): ButtonRow[] {
  return [row([button({ type: 'cancel', jobId }, ButtonStyle.Danger, 'Cancel', '✖️')])];
}

/** Under one image posted alone (a U button): its V button, re-roll and delete. */
export function singleImageComponents(jobId: string, index: number): ButtonRow[] {
  return [
    row([
      button({ type: 'variation', jobId, index }, ButtonStyle.Secondary, `V${index + 1}`),
      button({ type: 'reroll', jobId }, ButtonStyle.Primary, 'Re-roll', '🔄'),
      button({ type: 'delete', jobId }, ButtonStyle.Danger, 'Delete', '🗑️'),
    ]),
  ];
}
