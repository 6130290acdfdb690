/** What each scope lets a client do, in words for the consent page. */
const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are (your account identifier)',
  profile: 'See your username',
  email: 'See your email address',
  offline_access: 'Keep access while you are away',
};

export interface ScopeLine {
  name: string;
  description: string;
  /** Not granted before: this consent adds it. */
  isNew: boolean;
}

/** The scopes asked, each with its description, marking those not granted yet. */
export function scopeLines(requested: string, missing: readonly string[]): ScopeLine[] {
  const names = [...new Set(requested.split(' ').filter(Boolean))];
  return names
    .filter((name) => name in SCOPE_DESCRIPTIONS || missing.includes(name))
    .map((name) => ({ name, description: SCOPE_DESCRIPTIONS[name] ?? name, isNew: missing.includes(name) }));
}
