/**
 * A simulated worker with a safety checker: it flags image 2 of every job whose prompt matches.
 * Like the real worker, it replaces a flagged image with a flat placeholder unless the job allows
 * flagged images back (`nsfw: "allow"`), in which case it returns the picture itself, marked.
 */
import sharp from 'sharp';
import {
  SimulatedGenerator,
  type GenerationHooks,
  type GenerationOutput,
  type GenerationRequest,
  type ImageGenerator,
} from '@sdbot/worker';

export class FlaggingGenerator implements ImageGenerator {
  readonly provider = 'cpu' as const;
  readonly simulated = true;
  private readonly inner: SimulatedGenerator;
  readonly models: ImageGenerator['models'];

  constructor(
    private readonly flags: (prompt: string) => boolean = () => true,
    msPerStep = 10,
  ) {
    this.inner = new SimulatedGenerator(['sim'], msPerStep);
    this.models = this.inner.models.map((model) => ({ ...model, safetyChecker: true }));
  }

  async generate(request: GenerationRequest, hooks: GenerationHooks): Promise<GenerationOutput> {
    const output = await this.inner.generate(request, hooks);
    if (!this.flags(request.job.prompt)) return output;
    const images = await Promise.all(
      output.images.map(async (image, index) => {
        if (index !== 1) return image;
        if (request.job.nsfw === 'allow') return { ...image, nsfw: true };
        const placeholder = await sharp({
          create: { width: image.width, height: image.height, channels: 3, background: '#404040' },
        })
          .png()
          .toBuffer();
        return { ...image, nsfw: true, png: new Uint8Array(placeholder) };
      }),
    );
    return { ...output, images };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
