/**
 * API Gateway's request throttling, as the local gateway applies it: token
 * buckets filled from the same settings as the deployed stage.
 *
 * What API Gateway documents ("Throttle requests to your REST APIs for better
 * throughput", developer guide): it throttles with the token bucket algorithm,
 * one token per request, the rate refilling tokens per second and the burst
 * being the bucket's capacity; "per-API, per-stage throttling limits are
 * applied at the API method level for a stage", the same settings for all
 * methods or different ones per method. The stage's own limits are therefore a
 * default *per method*, not one pool for the whole API: CDK's
 * `deployOptions.throttlingRateLimit` becomes the stage's method setting for
 * resource path `/*` and HTTP method `*` (every method), and a method's own
 * setting (`methodOptions['/oauth/register/POST']`) replaces that default
 * for that method. So here:
 * - every method (HTTP method + resource path) has a bucket of its own, with
 *   the stage limits, or with `route.throttle` from lambda/shared/routes.ts where the
 *   route has one; `POST /oauth/register` uses only its 5/s, burst 10 bucket,
 *   and a request takes a token from exactly one bucket, so a refusal never
 *   consumes anything elsewhere;
 * - the CORS preflight (`OPTIONS` on a route path, a MOCK integration on a
 *   method of its own) is a method like the others: its bucket has the stage
 *   limits;
 * - a request that matches no method (answered 404 MISSING_AUTHENTICATION_TOKEN)
 *   still reaches the gateway: AWS does not document whether it counts, so here
 *   all of them share one bucket with the stage limits, which keeps a flood of
 *   unknown paths throttled too.
 * Not reproduced: the account-wide limit (10,000 requests/s, burst 5,000, shared
 * by every API of the account in the Region), far above anything local, and
 * usage plans, which this stack does not use. AWS calls its limits best-effort
 * targets; locally they are exact, which makes tests of them deterministic.
 */

import { definitions as d, parseSettings } from '../lambda/shared/settings.js';

/**
 * The stage limits, read from the variables the deployed stack reads them from
 * (lib/config.ts: THROTTLE_RATE_LIMIT, THROTTLE_BURST_LIMIT) with the same definitions.
 */
export const STAGE_THROTTLE_SETTINGS = {
  rateLimit: ['THROTTLE_RATE_LIMIT', d.throttleRateLimit],
  burstLimit: ['THROTTLE_BURST_LIMIT', d.throttleBurstLimit],
} as const;

/** The stage limits when nothing sets them: the stack's defaults (50 requests/s, burst 100). */
export const DEFAULT_STAGE_THROTTLE: ThrottleLimits = parseSettings(STAGE_THROTTLE_SETTINGS, {}, 'stage throttling');

/** A rate (tokens per second) and a burst (the bucket's capacity), as API Gateway takes them. */
export interface ThrottleLimits {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/** Milliseconds since some epoch; only differences matter. */
export type Clock = () => number;

function checkLimits({ rateLimit, burstLimit }: ThrottleLimits): void {
  if (!Number.isFinite(rateLimit) || rateLimit < 0 || !Number.isFinite(burstLimit) || burstLimit < 0) {
    throw new RangeError(`Throttle limits must be finite and not negative, got rate ${rateLimit}, burst ${burstLimit}`);
  }
}

/**
 * One token bucket: full (burst tokens) at first, refilled continuously at
 * `rateLimit` tokens per second up to `burstLimit`. A request takes one whole
 * token or is refused; a refused request takes nothing.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly limits: ThrottleLimits,
    private readonly now: Clock = Date.now,
  ) {
    checkLimits(limits);
    this.tokens = limits.burstLimit;
    this.updatedAt = now();
  }

  private refill(): void {
    const at = this.now();
    // A clock that steps back refills nothing (and never drains the bucket).
    const elapsedMs = Math.max(0, at - this.updatedAt);
    this.updatedAt = Math.max(this.updatedAt, at);
    this.tokens = Math.min(this.limits.burstLimit, this.tokens + (elapsedMs / 1000) * this.limits.rateLimit);
  }

  /** Tokens available now (fractions of one are not enough for a request). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Take a token for one request: true if it may go on, false if it is throttled. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The routes' part that throttling needs (lambda/shared/routes.ts's `Route` fits). */
export interface ThrottledRoute {
  readonly method: string;
  readonly path: string;
  readonly throttle?: ThrottleLimits;
}

/** The bucket shared by every request that matches no method of the API. */
export const UNMATCHED_METHOD = 'unmatched';

/**
 * The throttling of one stage: a bucket per method, created on its first
 * request, with the method's own limits where the route table sets them and
 * the stage limits otherwise.
 */
export class StageThrottle {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly methodLimits: ReadonlyMap<string, ThrottleLimits>;

  constructor(
    readonly stage: ThrottleLimits,
    routes: readonly ThrottledRoute[],
    private readonly now: Clock = Date.now,
  ) {
    checkLimits(stage);
    this.methodLimits = new Map(
      routes.filter((route) => route.throttle).map((route) => [StageThrottle.methodKey(route.method, route.path), route.throttle!]),
    );
    for (const limits of this.methodLimits.values()) checkLimits(limits);
  }

  /** How a method is named here (and in API Gateway's method settings): `POST /oauth/register`. */
  static methodKey(method: string, resourcePath: string): string {
    return `${method} ${resourcePath}`;
  }

  /** The limits that apply to a method: its own, or the stage's default. */
  limitsFor(method: string, resourcePath: string): ThrottleLimits {
    return this.methodLimits.get(StageThrottle.methodKey(method, resourcePath)) ?? this.stage;
  }

  /**
   * Take a token for a request to a method, or (`undefined` path) for one that
   * matches no method: true if it may go on, false if API Gateway would answer 429.
   */
  tryTake(method: string, resourcePath: string | undefined): boolean {
    const key = resourcePath === undefined ? UNMATCHED_METHOD : StageThrottle.methodKey(method, resourcePath);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(resourcePath === undefined ? this.stage : this.limitsFor(method, resourcePath), this.now);
      this.buckets.set(key, bucket);
    }
    return bucket.tryTake();
  }
}
