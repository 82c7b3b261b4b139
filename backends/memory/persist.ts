// JSON files that survive crashes: written whole to a temporary file, then renamed over the old
// one (rename is atomic on POSIX), so a reader sees the old or the new file, never half of one.
// Dates and byte arrays are tagged so they come back as Date and Uint8Array.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export function encodeJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // JSON.stringify has already called Date#toJSON on `v`; the holder still has the Date.
    const original = this[key];
    if (original instanceof Date) return { $date: original.toISOString() };
    if (original instanceof Uint8Array)
      return {
        $bytes: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64'),
      };
    return v;
  });
}

export function decodeJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && typeof o.$date === 'string') return new Date(o.$date);
      if (keys.length === 1 && typeof o.$bytes === 'string')
        return new Uint8Array(Buffer.from(o.$bytes, 'base64'));
    }
    return v;
  });
}

/** Writes `data` to `file` atomically (temporary file in the same directory, then rename). */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, file);
}

/** The file's JSON, or undefined when it does not exist. */
export async function readJsonFile(file: string): Promise<unknown> {
  try {
    return decodeJson(await readFile(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Coalesces saves: `schedule()` asks for a write within `delayMs`; many changes in a burst
 * cost one write. `flush()` writes now if anything is pending, and waits for writes under way.
 */
export class DebouncedWriter {
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly save: () => Promise<void>,
    private readonly delayMs: number,
    private readonly onError: (e: unknown) => void,
  ) {}

  schedule(): void {
    this.dirty = true;
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(this.onError);
    }, this.delayMs);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // Chain writes so two never race on the same file.
    const run = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      try {
        await this.save();
      } catch (e) {
        this.dirty = true;
        throw e;
      }
    });
    this.writing = run.catch(() => undefined);
    await run;
  }
}
