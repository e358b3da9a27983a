/**
 * Serves the built dashboard (`apps/ui/dist`) under `/`. Vite names every file under
 * `assets/` after a hash of its content, so those are cached for a year. `index.html` is
 * revalidated on every load, so a new build shows up at once. Any other GET of a path that
 * is not an API route and has no file extension gets `index.html` (SPA fallback), so the
 * app's own routes survive a reload.
 */
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';

import fastifyStatic from '@fastify/static';
import type { Logger } from '@voxfleet/logger';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

export interface DashboardRouteOptions {
  /** Folder of the Vite build, containing `index.html`. */
  uiDir: string;
  logger: Logger;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';
/** Prefixes that belong to the API, so an unknown path under them stays a JSON 404. */
const API_PREFIXES = ['/v1/', '/internal/', '/docs', '/openapi.json', '/health', '/ready'];

/** True when `uiDir` contains a build; the bridge serves no dashboard otherwise. */
export function hasDashboardBuild(uiDir: string): boolean {
  return existsSync(join(uiDir, 'index.html'));
}

export const dashboardRoutes: FastifyPluginAsync<DashboardRouteOptions> = async (app, options) => {
  // NOTE: with `wildcard: false` the file list is read once at startup, so a rebuild of the
  // dashboard is served after voxbridge restarts.
  await app.register(fastifyStatic, {
    root: options.uiDir,
    prefix: '/',
    wildcard: false,
    index: false,
    cacheControl: false,
    setHeaders(response, path) {
      const hashed = path.includes(`${sep}assets${sep}`);
      response.setHeader('cache-control', hashed ? IMMUTABLE : REVALIDATE);
    },
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => sendIndex(reply));
  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const lastSegment = path.slice(path.lastIndexOf('/') + 1);
    if (API_PREFIXES.some((prefix) => path.startsWith(prefix)) || lastSegment.includes('.')) {
      return reply.callNotFound();
    }
    return sendIndex(reply);
  });
  options.logger.info({ uiDir: options.uiDir }, 'dashboard served');
};

function sendIndex(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', REVALIDATE).sendFile('index.html');
}
