import { SifuError } from '../errors.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/**
 * Opens the store named by `store.url`: `sqlite:<path>` (or `sqlite::memory:`), `postgres://...` or
 * `postgresql://...`. Does not migrate: call `migrate()`.
 */
export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') {
      throw new SifuError(
        'SIFU_ERR_CONFIG',
        '`store.url` must name a file after `sqlite:`, e.g. sqlite:data/sifu.sqlite',
      );
    }
    return openSqliteStore(path);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgresStore(url);
  // Only the scheme is quoted back: the rest of a URL may hold a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(none)';
  throw new SifuError(
    'SIFU_ERR_CONFIG',
    `\`store.url\` must start with sqlite:, postgres:// or postgresql://, got scheme ${scheme}`,
  );
}
