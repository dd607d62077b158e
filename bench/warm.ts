/**
 * Warm cost per invocation (bench/warm-child.mjs does the invoking, in a plain
 * `node` process per function), and the reference points for the authorizer:
 * jose's own RS256 `jwtVerify` and Node's raw signature checks, in this process.
 * (The budget compares with jose's verify timed alongside the authorizer, in its
 * process: see `WarmCase.reference`.)
 */
import { constants, createPublicKey, verify, webcrypto, type JsonWebKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importJWK, jwtVerify, type JWK } from 'jose';
import { runChild } from './child.js';
import type { Expectation } from './events.js';
import { timeCalls } from './stats.js';

const CHILD = new URL('./warm-child.mjs', import.meta.url);

export interface WarmCase {
  readonly name: string;
  /** One event sent every time, or with `distinct` a pool of events each sent once. */
  readonly events: readonly unknown[];
  readonly distinct?: boolean;
  readonly expect: Expectation;
  readonly warmupCalls: number;
  /** How long the measured calls should take: their count follows from the warm-up's pace, within the bounds. */
  readonly targetMs?: number;
  readonly minCalls?: number;
  readonly maxCalls?: number;
  /** Time jose's own `jwtVerify` of this token too, in the same process, alternating with the handler. */
  readonly reference?: JoseReference;
}

export interface JoseReference {
  readonly token: string;
  readonly publicJwk: JWK;
  readonly issuer: string;
  readonly audience: string;
}

export interface WarmResult {
  readonly name: string;
  readonly calls: number;
  readonly batchSize: number;
  /** Median of the per-call times. */
  readonly medianUs: number;
  readonly p90Us: number;
  readonly minUs: number;
  /** Median over batches of each batch's mean per call (garbage collection included). */
  readonly batchMedianUs: number;
  readonly perSecond: number;
  /** The bundle cannot serve this request (it answered with the case's not-served status): n/a. */
  readonly notServed?: boolean;
  /** With a `reference`: jose's `jwtVerify`, median per call, measured alongside. */
  readonly referenceMedianUs?: number;
}

export async function measureWarm(
  target: { name: string; bundle: string; environment: Record<string, string>; node?: string },
  cases: readonly WarmCase[],
  workDir: string,
): Promise<WarmResult[]> {
  const file = join(workDir, `warm-${target.name}.json`);
  const defaults = { distinct: false, targetMs: 1500, minCalls: 2000, maxCalls: 20_000 };
  writeFileSync(file, JSON.stringify({ bundle: target.bundle, cases: cases.map((c) => ({ ...defaults, ...c })) }));
  const { report } = await runChild<{ cases: WarmResult[] }>(CHILD, file, target.environment, [], target.node);
  return report.cases;
}

export interface VerifyReference {
  /** jose's `jwtVerify` with a local CryptoKey: RS256 signature plus claim checks. */
  readonly joseJwtVerifyUs: number;
  /** Node's `crypto.verify` (RSA-SHA256, PKCS#1 v1.5) on the same token: the signature alone, synchronous. */
  readonly cryptoVerifyUs: number;
  /** WebCrypto's `subtle.verify`, which jose uses: the signature alone, through the thread pool. */
  readonly subtleVerifyUs: number;
  readonly calls: number;
}

export async function measureVerifyReference(
  { token, publicJwk, issuer, audience }: JoseReference,
  calls = 3000,
): Promise<VerifyReference> {
  const key = await importJWK({ kty: publicJwk.kty, n: publicJwk.n, e: publicJwk.e }, 'RS256');
  const options = { algorithms: ['RS256'], issuer, audience, requiredClaims: ['exp'], clockTolerance: 10 };
  const jose = await timeCalls(() => jwtVerify(token, key, options), { warmup: 300, calls });

  const [header, payload, signature] = token.split('.') as [string, string, string];
  const signingInput = Buffer.from(`${header}.${payload}`);
  const signatureBytes = Buffer.from(signature, 'base64url');
  const keyObject = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
  const rsa = { key: keyObject, padding: constants.RSA_PKCS1_PADDING };
  const raw = await timeCalls(
    () => {
      if (!verify('sha256', signingInput, rsa, signatureBytes)) throw new Error('bad signature');
    },
    { warmup: 300, calls },
  );

  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const subtleKey = await webcrypto.subtle.importKey('jwk', publicJwk as webcrypto.JsonWebKey, algorithm, false, ['verify']);
  const subtle = await timeCalls(() => webcrypto.subtle.verify(algorithm, subtleKey, signatureBytes, signingInput), { warmup: 300, calls });
  return { joseJwtVerifyUs: jose.medianUs, cryptoVerifyUs: raw.medianUs, subtleVerifyUs: subtle.medianUs, calls };
}
