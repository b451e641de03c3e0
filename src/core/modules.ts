/**
 * A module next to the calling one, for a worker thread to load: the built `.js` file, or under
 * tsx (tests, scripts) the `.ts` source, since a module a worker loads by URL is not remapped by tsx.
 *
 * @example
 *   const WORKER_FILE = moduleBeside(import.meta.url, 'parse.worker').href;
 */
export const moduleBeside = (base: string, name: string): URL => new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
