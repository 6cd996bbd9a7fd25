import type { Engine, RequestLike } from "./web/edgeseg.js";

/** What `/user/segments` answers and the helper renders. */
export interface SegmentsView {
  tier: string | null;
  segments: string[];
  version: number | null;
}

export interface PersonaliseOptions {
  /** Default `/user/segments`. */
  url?: string;
  /** Where to look for `[data-edgeseg-show]`. Default `document`. */
  root?: ParentNode & { querySelectorAll: Document["querySelectorAll"] };
  /** Poll period (ms); 0 polls once. Default 30000. */
  intervalMs?: number;
  /** An engine for local evaluation of request-context rules (web build, loaded with a snapshot). */
  engine?: Engine;
  /** The context for `engine.segmentsFor`. Default: this page's URL and user agent. */
  context?: () => RequestLike;
  fetch?: typeof fetch;
  onChange?: (view: SegmentsView) => void;
  onError?: (error: unknown) => void;
}

export interface Personalisation {
  /** The view rendered last. */
  view: SegmentsView;
  /** Resolves after the first fetch. */
  ready: Promise<void>;
  /** Fetches now (with If-None-Match); true when something new arrived. */
  refresh(): Promise<boolean>;
  /** A pushed message: a whole view, or `{version}` to re-fetch when the version changed. */
  push(message: Partial<SegmentsView>): Promise<void>;
  stop(): void;
}

export function personalise(options?: PersonaliseOptions): Personalisation;

/** Shows the `[data-edgeseg-show]` elements naming one of `view.segments` or `tier:<view.tier>`; hides the others. */
export function apply(root: ParentNode, view: Partial<SegmentsView>): void;
