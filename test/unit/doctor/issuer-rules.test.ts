/**
 * The doctor's checks of what strict OAuth clients check first: RFC 8414 3.3
 * (the metadata's issuer is the identifier its URL was built from), RFC 9207
 * (iss on the authorization response equals that issuer), and which ways of
 * registering the authorization server offers.
 */
import { issuerChecks, registrationWays } from '../../../scripts/doctor/steps/authorization-server.js';
import { issOutcome } from '../../../scripts/doctor/steps/sign-in.js';

const AS = 'https://acme.scalekit.dev/resources/res_123';

describe('issuerChecks (RFC 8414 3.3, RFC 9207 advertisement)', () => {
  test('an issuer equal to the discovered authorization server passes', () => {
    const [issuer, issParameter] = issuerChecks({ issuer: AS, authorization_response_iss_parameter_supported: true }, AS);
    expect(issuer).toMatchObject({ id: 'authorization-server.issuer', status: 'pass' });
    expect(issParameter).toMatchObject({ id: 'authorization-server.iss-parameter', status: 'pass' });
  });

  test('a trailing slash on the authorization_servers entry alone is tolerated', () => {
    expect(issuerChecks({ issuer: AS }, `${AS}/`)[0]).toMatchObject({ status: 'pass' });
  });

  test.each([
    ['the environment root', 'https://acme.scalekit.dev'],
    ['another resource', 'https://acme.scalekit.dev/resources/res_999'],
    ['a different case', AS.toUpperCase()],
    ['missing', undefined],
  ])('an issuer that is %s fails, naming the clients that refuse it', (_, issuer) => {
    const [check] = issuerChecks(issuer === undefined ? {} : { issuer }, AS);
    expect(check).toMatchObject({ id: 'authorization-server.issuer', status: 'fail' });
    expect(check!.summary).toContain('RFC 8414');
    expect(check!.fix).toBeDefined();
  });

  test('an authorization server that does not advertise iss on responses is a warning', () => {
    expect(issuerChecks({ issuer: AS }, AS)[1]).toMatchObject({ status: 'warn' });
  });
});

describe('issOutcome (RFC 9207 section 2.4, as clients apply it)', () => {
  const metadata = { issuer: AS, authorization_response_iss_parameter_supported: true };
  test('the advertised issuer, byte for byte, is accepted', () => {
    expect(issOutcome(AS, metadata).ok).toBe(true);
  });
  test.each(['https://acme.scalekit.dev', `${AS}/`, AS.replace('https', 'http')])('%s is an issuer mismatch', (iss) => {
    const outcome = issOutcome(iss, metadata);
    expect(outcome.ok).toBe(false);
    expect(outcome.summary).toContain('mismatch');
  });
  test('no iss where one is promised is refused; where none is promised, accepted', () => {
    expect(issOutcome(null, metadata).ok).toBe(false);
    expect(issOutcome(null, { issuer: AS }).ok).toBe(true);
  });
});

describe('registrationWays', () => {
  test.each([
    [{ registration_endpoint: `${AS}/register`, client_id_metadata_document_supported: true }, 'pass', /DCR .* or a client ID metadata document/],
    [{ registration_endpoint: `${AS}/register` }, 'warn', /no client ID metadata documents/],
    [{ client_id_metadata_document_supported: true }, 'warn', /client ID metadata documents only/],
    [{}, 'warn', /only pre-registered clients/],
  ])('%j → %s', (metadata, status, summary) => {
    const check = registrationWays(metadata);
    expect(check.status).toBe(status);
    expect(check.summary).toMatch(summary);
  });
});
