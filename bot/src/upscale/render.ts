/** The posted message of a finished upscale job, with Upscale again offered while under the cap. */
import type { OutgoingMessage, ResultViewInput } from '../delivery/views.js';
import { SdbotError } from '@sdbot/shared';
import type { GuildSettingsStore } from '../settings/store.js';
import { upscaleSettings, upscaleTarget } from './sizes.js';
import { upscaleResultView } from './view.js';

export interface UpscaleRenderInput extends ResultViewInput {
  guildId: string | null;
}

export async function renderUpscale(
  settingsStore: Pick<GuildSettingsStore, 'get'>,
  input: UpscaleRenderInput,
): Promise<OutgoingMessage> {
  const [image] = input.images;
  const [described] = input.result.images;
  if (image === undefined || described === undefined) {
    throw new SdbotError('INTERNAL', `upscale job ${input.job.id} finished without an image`);
  }
  const settings = input.guildId === null ? null : await settingsStore.get(input.guildId);
  const { factor, maxPixels } = upscaleSettings(settings);
  return upscaleResultView({
    job: input.job,
    result: input.result,
    image,
    userId: input.userId,
    attachmentLimit: input.attachmentLimit,
    spoiler: input.spoiler,
    width: described.width,
    height: described.height,
    again: !described.nsfw && upscaleTarget(described.width, described.height, factor, maxPixels) !== null,
  });
}
