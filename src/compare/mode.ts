/**
 * What each mode's runner provides. The orchestrator (run.ts) probes every mode, interleaves the
 * latency samples across modes (so a burst of load from other work on this host hits every mode
 * alike), then asks each for the facts once.
 */
import type { ModeFacts, ModeName } from './report.ts';

export interface FactsContext {
  /** Marker pattern for BERTH_COMPARE_PATTERN (see measure.ts). */
  pattern: string;
  /** berth compare's own namespaces: the host's. */
  hostNs: Record<string, string>;
  /** The -m asked of modes that take one (MiB); the hog allocates three times as much. */
  limitMiB: number;
  progress: (line: string) => void;
}

export interface ModeRunner {
  readonly mode: ModeName;
  readonly label: string;
  /** What one latency sample runs, as a user would type it. */
  readonly command: string;
  /** undefined when this host can run the mode, else why not (one line). */
  probe(): Promise<string | undefined>;
  /** Whatever the samples need (a root filesystem on disk); called once, after a passing probe. */
  setup(): Promise<void>;
  /** One start-to-exit of `true`, in milliseconds. */
  latencyOnce(): Promise<number>;
  facts(ctx: FactsContext): Promise<ModeFacts>;
  /** Undoes setup; safe to call after a failed or skipped setup. */
  close(): Promise<void>;
}

export const HOG_FACTOR = 3;
