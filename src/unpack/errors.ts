/**
 * A layer that would write outside its target, or is otherwise not a well-formed diff. The whole
 * unpack is abandoned and its partial snapshot discarded; the user sees one line naming the entry.
 */
import { BerthError } from '../common/errors.ts';

export class UnsafeLayerError extends BerthError {
  readonly entry: string;
  constructor(entry: string, why: string) {
    super('invalid-argument', `refusing layer entry '${entry}': ${why}`);
    this.entry = entry;
  }
}

/** A layer whose bytes are not a readable tar (after decompression). */
export class CorruptLayerError extends BerthError {
  constructor(message: string, cause?: unknown) {
    super('invalid-argument', message, { cause });
  }
}
