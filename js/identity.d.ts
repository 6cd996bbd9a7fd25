import type { IdentitySource, RequestLike } from "./web/edgeseg.js";

/** What `verifyIdentity` needs of an engine: any build's `Engine` (web, bundler, nodejs, deno). */
export interface IdentityEngine {
  readonly identitySources: IdentitySource[];
  identityClaim(request: any): { source: number; token: string } | undefined;
}

/** Why a token proved no id (the wasmtime host's names). */
export type IdentityRefusal =
  | "malformed"
  | "alg"
  | "signature"
  | "expired"
  | "not_yet_valid"
  | "issuer"
  | "audience"
  | "claim"
  | "no_secret";

/** The id a token proved (`source` indexes `engine.identitySources`), or why it proved none. */
export type IdentityResult = { id: string; source: number } | { refused: IdentityRefusal; source: number };

/**
 * Checks the token the request's first present identity source carries when that source is a
 * verified one (a JWT with WebCrypto Ed25519 / ECDSA P-256, or an HMAC-SHA256-signed value).
 * `null`: nothing to verify (no verified source in the snapshot, a bare claim, or no identity).
 * Never rejects for a bad token. `env` holds HMAC secrets (`env[secretEnv]`); by default the
 * process environment.
 */
export function verifyIdentity(
  engine: IdentityEngine,
  request: RequestLike | Request,
  env?: Record<string, unknown>,
): Promise<IdentityResult | null>;

/** The request as a plain object with `verifiedId` set, for `decide`, `segmentsFor` and `shardFor`. */
export function withVerifiedId(request: RequestLike | Request, verifiedId: string): RequestLike;

/** Whether the engine's snapshot has a verified identity source. */
export function verifiesIdentity(engine: IdentityEngine): boolean;

/** `<id>.<exp>.<mac>`: the value of an HMAC identity source for `id` until `expS` (Unix seconds). */
export function signHmacIdentity(id: string, expS: number, secret: string): Promise<string>;

/** Every reason `verifyIdentity` may give. */
export const IDENTITY_REFUSALS: readonly IdentityRefusal[];
