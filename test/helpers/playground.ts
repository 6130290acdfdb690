import type { Test } from 'tap';
import { buildPlayground } from '../../src/playground/server.js';
import { freePort } from './server.js';

export interface TestPlayground {
  url: string;
  callback: string;
}

/** The playground listening on 127.0.0.1, talking to `issuer`; closed at the end of the test. */
export async function startPlayground(t: Test, issuer: string): Promise<TestPlayground> {
  const port = await freePort();
  const publicUrl = new URL(`http://127.0.0.1:${port}`);
  const app = await buildPlayground({ issuer: new URL(issuer), publicUrl, logLevel: process.env.TEST_LOG_LEVEL ?? 'silent' });
  await app.listen({ port, host: '127.0.0.1' });
  t.teardown(() => app.close());
  return { url: publicUrl.origin, callback: `${publicUrl.origin}/callback` };
}

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#x27;': "'",
  '&#x3D;': '=',
  '&#x60;': '`',
};

/** Undoes handlebars' escaping, to read values out of a page. */
export function unescapeHtml(html: string): string {
  return html.replace(/&(amp|lt|gt|quot|#x27|#x3D|#x60);/g, (entity) => ENTITIES[entity] ?? entity);
}

export function csrfToken(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error('no CSRF token in the page');
  return match[1];
}

/** The values shown under a label (`<h3>label</h3><pre>value</pre>`), in page order. */
export function shown(html: string, label: string): string[] {
  const values: string[] = [];
  const pattern = /<h3>([^<]*)<\/h3>\s*<pre>([\s\S]*?)<\/pre>/g;
  for (const match of html.matchAll(pattern)) {
    if (unescapeHtml(match[1] ?? '') === label) values.push(unescapeHtml(match[2] ?? ''));
  }
  return values;
}

/** The link of step 1 ("Continue to Latchkey"). */
export function authorizationLink(html: string): URL {
  const match = /<a class="button" href="([^"]+)">Continue to Latchkey<\/a>/.exec(html);
  if (!match?.[1]) throw new Error('no authorization link in the page');
  return new URL(unescapeHtml(match[1]));
}
