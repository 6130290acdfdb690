// The server process: `npm start`, and the image's command.
import { relaunchedOnSupportedNode } from './runtime.js';

if (!relaunchedOnSupportedNode()) {
  // The settings are read before the rest of the server is loaded: a wrong one is reported at once.
  const { configOrExit } = await import('./server/startup-config.js');
  const config = configOrExit();
  const { start } = await import('./server/start.js');
  start(config);
}
