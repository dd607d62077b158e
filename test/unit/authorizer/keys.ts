/**
 * Key material and hand-made JWS for the authorizer's unit tests: tokens jose
 * would refuse to sign (unknown `crit`, weak keys, alg none) are built here.
 */
import { createSign, generateKeyPairSync, KeyObject, verify, webcrypto } from 'node:crypto';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export interface TestKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function rsaKey(kid: string, extra: Partial<JWK> = { use: 'sig', alg: 'RS256' }): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, ...extra } };
}

/** An RSA key below 2048 bits, which jose will not even sign with: Node's crypto does. */
export function weakRsaKey(kid: string, modulusLength = 1024): { kid: string; privateKey: KeyObject; publicJwk: JWK } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength });
  return { kid, privateKey, publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, use: 'sig', alg: 'RS256' } };
}

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A compact RS256 JWS over any header and payload, signed with WebCrypto (jose's checks do not apply). */
export async function signCompact(header: Record<string, unknown>, payload: unknown, privateKey: CryptoKey): Promise<string> {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const signature = await webcrypto.subtle.sign('RSASSA-PKCS1-v1_5', privateKey as webcrypto.CryptoKey, Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

/** The same with a Node KeyObject (for weak keys). */
export function signCompactWithKeyObject(header: Record<string, unknown>, payload: unknown, privateKey: KeyObject): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const signature = createSign('RSA-SHA256').update(input).sign(privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

/** Whether `key` (as returned by a key source) verifies a signature made with `signer`'s private key. */
export async function verifiesWith(key: unknown, signer: TestKey): Promise<boolean> {
  const data = Buffer.from('probe');
  const signature = await webcrypto.subtle.sign('RSASSA-PKCS1-v1_5', signer.privateKey as webcrypto.CryptoKey, data);
  if (key instanceof KeyObject) return verify('sha256', data, key, Buffer.from(signature));
  return webcrypto.subtle.verify('RSASSA-PKCS1-v1_5', key as webcrypto.CryptoKey, signature, data);
}
