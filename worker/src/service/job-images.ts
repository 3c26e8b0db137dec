/**
 * The images a job reads and writes in the object store: its source image (img2img, variations,
 * upscales) and its results and previews (chunked: images never have to fit in one message).
 */
import type { ObjectStore } from '@nats-io/obj';
import { OBJECT_STORES, SdbotError, natsFailure, type ObjectRef } from '@sdbot/shared';

export class JobImages {
  constructor(private readonly objects: ObjectStore) {}

  async readSource(ref: ObjectRef): Promise<Uint8Array> {
    let bytes;
    try {
      bytes = await this.objects.getBlob(ref.name);
    } catch (error) {
      throw natsFailure(error, `reading source image ${ref.name}`);
    }
    if (bytes === null)
      throw new SdbotError('IMAGE_INVALID', `source image ${ref.name} is not in the object store`);
    return bytes;
  }

  async store(name: string, png: Uint8Array): Promise<ObjectRef> {
    try {
      const info = await this.objects.putBlob({ name }, png);
      return { store: OBJECT_STORES.images, name, size: info.size, contentType: 'image/png' };
    } catch (error) {
      throw natsFailure(error, `storing image ${name}`);
    }
  }
}
