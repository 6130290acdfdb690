import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export class DataDirBusyError extends Error {}

export interface DataDirLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The embedded database admits one process at a time. A pid file in DATA_DIR says who
 * holds it; a file left by a process that no longer runs (kill -9) is taken over.
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const path = join(dataDir, 'latchkey.pid');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(String(process.pid));
      await file.close();
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await unlink(path).catch(() => {});
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
        throw new DataDirBusyError(`the embedded database in ${dataDir} is in use by process ${holder} (stop it, or use the web pages)`);
      }
      await unlink(path).catch(() => {});
    }
  }
  throw new DataDirBusyError(`could not lock the embedded database in ${dataDir}`);
}
