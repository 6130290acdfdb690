/**
 * The little of a browser that an HTTP test needs: cookies kept per host (as browsers do,
 * whatever the port) and sent back, redirects left for the test to follow and inspect.
 */
export class CookieJar {
  readonly #byHost = new Map<string, Map<string, string>>();

  #cookies(url: URL): Map<string, string> {
    let cookies = this.#byHost.get(url.hostname);
    if (!cookies) {
      cookies = new Map();
      this.#byHost.set(url.hostname, cookies);
    }
    return cookies;
  }

  store(url: URL, response: Response): void {
    const cookies = this.#cookies(url);
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=.*1970/i.test(a));
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
  }

  header(url: URL): string {
    return [...this.#cookies(url)].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  get(url: URL, name: string): string | undefined {
    return this.#cookies(url).get(name);
  }

  /** One request with this jar's cookies; redirects are returned, not followed. */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(input);
    const headers = new Headers(init.headers);
    const cookie = this.header(url);
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.store(url, response);
    return response;
  }

  /** A form POST (urlencoded), as a browser sends it from a page of the same origin. */
  async post(input: string | URL, form: Record<string, string>): Promise<Response> {
    const url = new URL(input);
    return this.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url.origin },
      body: new URLSearchParams(form).toString(),
    });
  }
}

/** The absolute target of a redirect response. */
export function location(response: Response, base: string | URL): URL {
  const target = response.headers.get('location');
  if (!target) throw new Error(`expected a redirect, got ${response.status}`);
  return new URL(target, base);
}
