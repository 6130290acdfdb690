import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Every views/partials/NAME.hbs as the partial NAME, for @fastify/view's `options.partials`. */
export function viewPartials(viewsDir: string): Record<string, string> {
  const files = readdirSync(join(viewsDir, 'partials')).filter((file) => file.endsWith('.hbs'));
  return Object.fromEntries(files.map((file) => [basename(file, '.hbs'), `partials/${file}`]));
}
