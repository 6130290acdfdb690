-- An operator can disable an account (latchkey user disable): while disabled_at is set it signs
-- in nowhere and its tokens are refused. The OpenID Connect sessions of one account are found
-- through their own index, so that ending them all (sign out everywhere, a password change,
-- disabling or deleting the account) reads no other row of the payload table.
alter table accounts add column disabled_at timestamptz;
create index oidc_payloads_session_account on oidc_payloads ((payload->>'accountId')) where model = 'Session';
