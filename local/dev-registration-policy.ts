/**
 * The registration policy of the deployed proxy (lambda/register/registration-policy.ts),
 * enforced by the embedded development authorization server on its own
 * registration endpoint, which clients reach directly. Plugged into
 * oidc-provider as an `extraClientMetadata` validator: it sees every client
 * oidc-provider builds (registered, static, client ID metadata documents).
 *
 * - A registration must pass the same policy as one through the proxy (every
 *   field, no format or control characters), except that confidential clients
 *   (authorization code with a client secret) may register here, as at Scalekit.
 * - client_credentials is for the one configured machine client only: no other
 *   client, however it came to be, may mint user-less tokens.
 */
import { errors, type Configuration } from 'oidc-provider';
import { registrationRefusal } from '../lambda/register/registration-policy.js';

type ExtraClientMetadata = NonNullable<Configuration['extraClientMetadata']>;

export function devRegistrationPolicy(machineClientId: string | undefined): ExtraClientMetadata {
  return {
    // Listed so that oidc-provider calls the validator; it is a standard field and stays one.
    properties: ['grant_types'],
    validator(ctx, key, value, metadata) {
      if (key !== 'grant_types') return;
      const grants = Array.isArray(value) ? value : [];
      if (grants.includes('client_credentials') && (machineClientId === undefined || metadata.client_id !== machineClientId)) {
        throw new errors.InvalidClientMetadata('client_credentials is reserved for the configured machine client');
      }
      if (ctx?.oidc?.route !== 'registration') return;
      const body = ctx.oidc.body;
      if (typeof body !== 'object' || body === null) return;
      const refusal = registrationRefusal(body as Record<string, unknown>, { publicClientsOnly: false });
      if (!refusal) return;
      // Not InvalidRedirectUri, whose description is fixed ("did not match any registered redirect_uris"):
      // InvalidClientMetadata answers invalid_redirect_uri for the policy's "redirect_uris…" descriptions.
      throw new errors.InvalidClientMetadata(refusal.description);
    },
  };
}
