import { AUTH_METHODS, GRANT_TYPES, METADATA_ORDER, type ClientInput } from '../oidc/client-metadata.js';
import type { ClientMetadata } from './store.js';
import { linesField, listField, textField } from '../http/form-fields.js';

/** The Create client form as typed (kept as is when it has problems). */
export interface ClientFormValues {
  client_name: string;
  client_uri: string;
  redirect_uris: string;
  post_logout_redirect_uris: string;
  grant_types: string[];
  response_types: string;
  scope: string;
  token_endpoint_auth_method: string;
}

export const EMPTY_FORM: ClientFormValues = {
  client_name: '',
  client_uri: '',
  redirect_uris: '',
  post_logout_redirect_uris: '',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: 'code',
  scope: 'openid profile',
  token_endpoint_auth_method: 'client_secret_basic',
};

export function formValues(body: unknown): ClientFormValues {
  return {
    client_name: textField(body, 'client_name'),
    client_uri: textField(body, 'client_uri'),
    redirect_uris: textField(body, 'redirect_uris'),
    post_logout_redirect_uris: textField(body, 'post_logout_redirect_uris'),
    grant_types: listField(body, 'grant_types'),
    response_types: textField(body, 'response_types'),
    scope: textField(body, 'scope'),
    token_endpoint_auth_method: textField(body, 'token_endpoint_auth_method'),
  };
}

export function clientInput(body: unknown): ClientInput {
  return {
    client_name: textField(body, 'client_name'),
    client_uri: textField(body, 'client_uri'),
    redirect_uris: linesField(body, 'redirect_uris'),
    post_logout_redirect_uris: linesField(body, 'post_logout_redirect_uris'),
    grant_types: listField(body, 'grant_types'),
    response_types: linesField(body, 'response_types'),
    scope: textField(body, 'scope'),
    token_endpoint_auth_method: textField(body, 'token_endpoint_auth_method'),
  };
}

/** What views/partials/client-form.hbs renders: the values, each checkbox and option marked. */
export function formView(values: ClientFormValues) {
  return {
    ...values,
    grantTypes: GRANT_TYPES.map((name, i) => ({ name, id: `grant-type-${i}`, checked: values.grant_types.includes(name) })),
    authMethods: AUTH_METHODS.map((name) => ({ name, selected: values.token_endpoint_auth_method === name })),
  };
}

/** A list as the Authlib example printed it: ['authorization_code', 'password']. */
function listText(values: unknown[]): string {
  return `[${values.map((v) => `'${String(v)}'`).join(', ')}]`;
}

const NOT_METADATA = new Set([
  'client_id',
  'client_secret',
  'client_id_issued_at',
  'client_secret_expires_at',
  'registration_access_token',
]);

/** "Client Metadata": the example's fields first, then anything else registered. */
export function metadataRows(metadata: ClientMetadata): { name: string; value: string }[] {
  const record = metadata as unknown as Record<string, unknown>;
  const others = Object.keys(record)
    .filter((name) => !METADATA_ORDER.includes(name) && !NOT_METADATA.has(name))
    .sort();
  return [...METADATA_ORDER, ...others]
    .filter((name) => record[name] !== undefined && record[name] !== null)
    .map((name) => {
      const value = record[name];
      return { name, value: Array.isArray(value) ? listText(value) : typeof value === 'object' ? JSON.stringify(value) : String(value) };
    });
}

/** "Client Info": the secret itself only when just issued; afterwards only whether one is set. */
export function infoRows(metadata: ClientMetadata, secret: { issued?: string | undefined; isSet: boolean }) {
  const secretText = secret.issued ?? (secret.isSet ? 'a secret is set (it was shown once, when it was issued)' : 'none (a public client)');
  return [
    { name: 'client_id', value: metadata.client_id, code: true },
    { name: 'client_secret', value: secretText, code: secret.issued !== undefined },
    { name: 'client_id_issued_at', value: String(metadata.client_id_issued_at ?? 0), code: false },
    { name: 'client_secret_expires_at', value: String(metadata.client_secret_expires_at ?? 0), code: false },
  ];
}

export function clientHref(clientId: string): string {
  return `/clients/${encodeURIComponent(clientId)}`;
}
