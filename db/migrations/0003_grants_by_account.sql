-- Grants (remembered consent) by the account and client they belong to: the next authorization
-- of a client the person already allowed, in any browser session, finds its Grant here; the
-- connected apps page lists an account's Grants.
create index oidc_payloads_grant_account on oidc_payloads ((payload->>'accountId'), (payload->>'clientId')) where model = 'Grant';
