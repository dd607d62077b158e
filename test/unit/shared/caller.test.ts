import { callerContext, callerFromContext, CLOCK_TOLERANCE_SECONDS, isExpired, organizationIdOf, type Caller } from '../../../lambda/shared/caller.js';

const caller: Caller = {
  sub: 'usr_123',
  clientId: 'skc_abc',
  scopes: ['web-search:read', 'web-search:crawl'],
  exp: 1_900_000_000,
  tokenId: 'tkn_1',
};

describe('callerContext', () => {
  test('is flat, with only strings and numbers, scopes as a JSON array', () => {
    const context = callerContext(caller);
    expect(context).toEqual({
      sub: 'usr_123',
      clientId: 'skc_abc',
      scopes: '["web-search:read","web-search:crawl"]',
      exp: 1_900_000_000,
      tokenId: 'tkn_1',
    });
    for (const value of Object.values(context)) expect(['string', 'number']).toContain(typeof value);
  });
});

describe('callerFromContext', () => {
  test('reads the strings API Gateway hands the integration', () => {
    expect(
      callerFromContext({
        principalId: 'usr_123',
        sub: 'usr_123',
        clientId: 'skc_abc',
        scopes: '["web-search:read","web-search:crawl"]',
        exp: '1900000000',
        tokenId: 'tkn_1',
      }),
    ).toEqual(caller);
  });

  test('round-trips what callerContext writes (numbers as numbers)', () => {
    expect(callerFromContext(callerContext(caller))).toEqual(caller);
  });

  test('numbers are read as text, so a numeric sub survives', () => {
    expect(callerFromContext({ sub: 42, clientId: 7, scopes: '["a"]', exp: 100, tokenId: 9 })).toEqual({
      sub: '42',
      clientId: '7',
      scopes: ['a'],
      exp: 100,
      tokenId: '9',
    });
  });

  test('a missing identity field becomes an empty string; empty scopes become an empty list', () => {
    expect(callerFromContext({ clientId: 'skc_m2m', scopes: '[]', exp: '100' })).toEqual({ sub: '', clientId: 'skc_m2m', scopes: [], exp: 100, tokenId: '' });
    expect(callerFromContext({ sub: 'usr_1', scopes: '[]', exp: '100' })).toEqual({ sub: 'usr_1', clientId: '', scopes: [], exp: 100, tokenId: '' });
  });

  test('a caller with neither a sub nor a client id is no caller: nobody to count', () => {
    expect(callerFromContext({ scopes: '[]', exp: '100' })).toBeUndefined();
    expect(callerFromContext({ sub: '', clientId: '', scopes: '["a"]', exp: '100' })).toBeUndefined();
  });

  test('the organisation travels when it is one, and round-trips', () => {
    const member: Caller = { ...caller, organizationId: 'org_1' };
    expect(callerContext(member)).toMatchObject({ organizationId: 'org_1' });
    expect(callerFromContext(callerContext(member))).toEqual(member);
    for (const odd of ['', 'o'.repeat(129), 'org 1', 'org\n1', 5, null]) {
      expect(callerFromContext({ ...callerContext(caller), organizationId: odd })).toEqual(caller);
      expect(organizationIdOf(odd)).toBeUndefined();
    }
    expect(organizationIdOf('o'.repeat(128))).toBe('o'.repeat(128));
    expect(Object.keys(callerContext(caller))).not.toContain('organizationId');
  });

  test('scopes are never split: a space-separated list, or an element with a space, gives no caller', () => {
    expect(callerFromContext({ scopes: 'a b', exp: '100' })).toBeUndefined();
    expect(callerFromContext({ scopes: '["a b"]', exp: '100' })).toBeUndefined();
    expect(callerFromContext({ scopes: '', exp: '100' })).toBeUndefined();
  });

  test.each([
    ['undefined', undefined],
    ['null', null],
    ['an empty context', {}],
    ['no scopes', { exp: '100', sub: 'usr_1' }],
    ['scopes not text', { exp: '100', scopes: ['a'] }],
    ['scopes a JSON array with a number', { exp: '100', scopes: '["a",1]' }],
    ['scopes a JSON array with an empty scope', { exp: '100', scopes: '["a",""]' }],
    ['no exp', { scopes: '["a"]' }],
    ['exp not a number', { scopes: '["a"]', exp: 'soon' }],
    ['exp empty', { scopes: '["a"]', exp: '' }],
    ['exp zero', { scopes: '["a"]', exp: '0' }],
    ['exp negative', { scopes: '["a"]', exp: '-5' }],
    ['exp infinite', { scopes: '["a"]', exp: 'Infinity' }],
    ['exp a boolean', { scopes: '["a"]', exp: true }],
    ['exp an object', { scopes: '["a"]', exp: { value: 100 } }],
  ])('%s gives no caller', (_why, context) => {
    expect(callerFromContext(context as Record<string, unknown> | null | undefined)).toBeUndefined();
  });
});

describe('isExpired', () => {
  const at = (exp: number) => ({ ...caller, exp });

  test('the tolerance is 10 seconds', () => {
    expect(CLOCK_TOLERANCE_SECONDS).toBe(10);
  });

  test('valid before exp, and until exp + tolerance', () => {
    expect(isExpired(at(1000), 999_000)).toBe(false);
    expect(isExpired(at(1000), 1_000_000)).toBe(false);
    expect(isExpired(at(1000), 1_009_999)).toBe(false);
  });

  test('expired from exp + tolerance, the boundary where jose refuses the token in the authorizer', () => {
    expect(isExpired(at(1000), 1_010_000)).toBe(true);
    expect(isExpired(at(1000), 1_011_000)).toBe(true);
    expect(isExpired(at(1000), 5_000_000)).toBe(true);
  });
});
