// The server process: `npm start`, and the image's command.
import { relaunchedOnSupportedNode } from './runtime.js';

if (!relaunchedOnSupportedNode()) await import('./server/start.js');
