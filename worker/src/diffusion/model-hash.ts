/**
 * A short content hash of a model directory, shown in provenance and heartbeats.
 *
 * Sizes and mtimes alone are too weak (a re-export of the same architecture has the same sizes, and
 * copies change mtimes), while hashing every byte of a 4 GB model costs seconds at each start. So
 * each weight file (*.onnx, weights.pb, *.onnx_data, *.pb, *.bin) contributes its relative path,
 * its size, and its first and last MiB: new weights change the bytes everywhere, including both ends
 * of every file, and the ONNX graph itself sits at the start of model.onnx. The configs and tokenizer files are
 * small and hashed whole.
 */
import { createHash } from 'node:crypto';
import { open, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

const EDGE_BYTES = 1024 * 1024;
const WEIGHT_FILE = /\.(onnx|onnx_data|pb|bin)$/;
const CONFIG_FILE = /\.(json|txt)$/;
/** Characters of the hex digest kept: 64 bits, plenty to tell models apart. */
const SHORT_HASH_LENGTH = 16;

async function listFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && (WEIGHT_FILE.test(entry.name) || CONFIG_FILE.test(entry.name)))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

async function hashEdges(path: string, update: (chunk: Uint8Array) => void): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    update(Buffer.from(`${size}\n`));
    const head = Buffer.alloc(Math.min(EDGE_BYTES, size));
    await handle.read(head, 0, head.length, 0);
    update(head);
    if (size > EDGE_BYTES) {
      const tailLength = Math.min(EDGE_BYTES, size - EDGE_BYTES);
      const tail = Buffer.alloc(tailLength);
      await handle.read(tail, 0, tailLength, size - tailLength);
      update(tail);
    }
  } finally {
    await handle.close();
  }
}

/** sha256 over the model's configs and weight-file edges; the first 16 hex digits. */
export async function hashModelDirectory(directory: string): Promise<string> {
  const hash = createHash('sha256');
  const update = (chunk: Uint8Array) => hash.update(chunk);
  for (const file of await listFiles(directory)) {
    // Forward slashes so the same model hashes the same on every platform.
    update(Buffer.from(`${relative(directory, file).split(sep).join('/')}\n`));
    if (CONFIG_FILE.test(file)) update(await readFile(file));
    else await hashEdges(file, update);
  }
  return hash.digest('hex').slice(0, SHORT_HASH_LENGTH);
}
