import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Catalog } from '../../catalog/catalog.js';
import { presetToApi } from '../../catalog/catalog.js';
import { DiscoverBody, Discovery, ErrorBody } from '../schemas.js';

export type DiscoverFn = (email: string) => Promise<unknown>;

export function catalogRoutes(app: FastifyInstance, catalog: Catalog, discover: DiscoverFn): void {
  app.get('/v1/presets', {
    config: { access: 'any' },
    schema: {
      tags: ['catalog'],
      summary: 'Provider presets: hosts, ports, security, auth methods, limits, Sent-copy behaviour; `other` is always present',
      response: { 200: Type.Array(Type.Object({ id: Type.String() }, { additionalProperties: true })), 401: ErrorBody },
    },
  }, async () => catalog.list().map(presetToApi));

  app.post<{ Body: { email: string } }>('/v1/discover', {
    config: { access: 'any' },
    schema: { tags: ['catalog'], summary: 'Discover settings from an address (preset, MX, SRV, autoconfig, guess)', body: DiscoverBody, response: { 200: Discovery, 400: ErrorBody, 401: ErrorBody } },
  }, async (req) => discover(req.body.email));
}
