-- Requests per subject (e.g. a client or an IP at the token endpoint) in fixed windows,
-- counted in the database so that every instance sharing it enforces one limit together.
create table rate_windows (
  subject text primary key,
  window_start timestamptz not null,
  hits integer not null
);
