-- Usernames are unique in one canonical form (NFKC, case-folded), computed by the server in one
-- place (src/accounts/username.ts) rather than by SQL's lower(), which disagrees with it for some
-- letters. Rows made before this have no key yet: the server computes theirs when it starts.
alter table accounts add column username_key text;
create unique index accounts_username_key on accounts (username_key);
drop index accounts_username_lower;
