import { dirname, join } from 'path';
import { Body, Controller, Get, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { status } from '@grpc/grpc-js';
import { LOGGER, Logger, tenancyFilter, toGrpcError } from '@citybase/platform';
import { AnalyticsService, toScope } from '../analytics/analytics.service';
import { DashboardAuth, SESSION_COOKIE } from './dashboard.auth';
import { Connection, dashboardJson, DashboardHub } from './dashboard.hub';

/** The page, its script and style (services/data/dashboard), and uPlot from node_modules: no CDN. */
const PAGE_DIR = join(__dirname, '..', '..', 'dashboard');
const UPLOT_DIR = join(dirname(require.resolve('uplot/package.json')), 'dist');
const ASSETS: Record<string, { file: string; type: string }> = {
  'dashboard.js': { file: join(PAGE_DIR, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  'dashboard.css': { file: join(PAGE_DIR, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': { file: join(UPLOT_DIR, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { file: join(UPLOT_DIR, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/**
 * The one-screen dashboard on the data service's HTTP port (docs/data.md "Dashboard"):
 *   GET  /dashboard             the page (sign-in form until signed in)
 *   GET  /dashboard/assets/:f   its script and style, and uPlot (from node_modules)
 *   POST /dashboard/session     {client_id, client_secret}: identity issues a token, kept in an HttpOnly cookie
 *   GET  /dashboard/session     whether the request is signed in (and as whom)
 *   POST /dashboard/logout      clears the cookie
 *   GET  /dashboard/snapshot    the panels as JSON (?operator_id=&project_id=)
 *   GET  /dashboard/events      server-sent events: `snapshot`, then `delta`s (?operator_id=&project_id=)
 * Every data request is verified like a gRPC call (scope data:read) and narrowed to the caller's
 * tenancy: an operator sees its projects only, the city admin the city.
 */
@Controller('dashboard')
export class DashboardHttp {
  constructor(
    private readonly auth: DashboardAuth,
    private readonly analytics: AnalyticsService,
    private readonly hub: DashboardHub,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Get()
  page(@Res() res: Response): void {
    res.set({ ...SECURITY_HEADERS, 'Cache-Control': 'no-store' }).sendFile(join(PAGE_DIR, 'index.html'));
  }

  @Get('assets/:file')
  asset(@Req() req: Request, @Res() res: Response): void {
    const a = ASSETS[String(req.params.file)];
    if (!a) {
      res.status(404).json({ error: 'no such asset' });
      return;
    }
    res.set({ ...SECURITY_HEADERS, 'Content-Type': a.type, 'Cache-Control': 'no-cache' }).sendFile(a.file);
  }

  @Post('session')
  async session(@Body() body: Record<string, unknown>, @Res() res: Response): Promise<void> {
    const clientId = typeof body?.client_id === 'string' ? body.client_id : '';
    const secret = typeof body?.client_secret === 'string' ? body.client_secret : '';
    if (clientId === '' || secret === '') {
      res.status(400).json({ error: 'client_id and client_secret are required' });
      return;
    }
    let issued: { status: number; body: Record<string, unknown> };
    try {
      issued = await this.auth.signIn(clientId, secret);
    } catch (err) {
      this.logger.warn({ err }, 'dashboard sign-in: identity unreachable');
      res.status(503).json({ error: 'identity is unreachable; try again shortly' });
      return;
    }
    const token = issued.body.access_token;
    if (issued.status !== 200 || typeof token !== 'string') {
      res
        .status(issued.status === 200 ? 502 : issued.status)
        .json({ error: issued.body.error_description ?? issued.body.error ?? 'sign-in refused' });
      return;
    }
    try {
      const claims = await this.auth.verify(`Bearer ${token}`);
      const maxAge = Math.max(0, claims.exp - Math.floor(Date.now() / 1000));
      res
        .status(200)
        .set(
          'Set-Cookie',
          `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`,
        )
        .json({ client: claims.sub, tenancy: this.describe(claims), expires_in: maxAge });
    } catch (err) {
      this.refuse(res, err);
    }
  }

  /** Whether the request carries a valid session (200 either way: the page asks before it signs in). */
  @Get('session')
  async current(@Req() req: Request, @Res() res: Response): Promise<void> {
    const authorization = this.auth.tokenOf(req.headers);
    const claims = authorization ? await this.auth.verify(authorization).catch(() => undefined) : undefined;
    res
      .status(200)
      .set('Cache-Control', 'no-store')
      .json(
        claims
          ? { signed_in: true, client: claims.sub, tenancy: this.describe(claims) }
          : { signed_in: false },
      );
  }

  @Post('logout')
  logout(@Res() res: Response): void {
    res
      .status(204)
      .set('Set-Cookie', `${SESSION_COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0`)
      .end();
  }

  @Get('snapshot')
  async snapshot(@Req() req: Request, @Res() res: Response): Promise<void> {
    try {
      const claims = await this.auth.verify(this.auth.tokenOf(req.headers));
      const model = await this.analytics.dashboard(claims, this.scopeOf(req));
      res
        .status(200)
        .set('Cache-Control', 'no-store')
        .json({ ...dashboardJson(model), tenancy: this.describe(claims) });
    } catch (err) {
      this.refuse(res, err);
    }
  }

  @Get('events')
  async events(@Req() req: Request, @Res() res: Response): Promise<void> {
    let claims;
    let scope;
    try {
      claims = await this.auth.verify(this.auth.tokenOf(req.headers));
      scope = this.scopeOf(req);
      // refuses a foreign scope before the stream opens
      await this.analytics.where(claims, scope);
    } catch (err) {
      this.refuse(res, err);
      return;
    }
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.write('retry: 2000\n\n');
    let open = true;
    const heartbeat = setInterval(() => open && res.write(': keep-alive\n\n'), 15_000);
    const conn: Connection = {
      claims,
      scope,
      sent: new Map(),
      send: (event, id, data) => {
        if (!open) return false;
        return res.write(`event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`) || true;
      },
      close: () => {
        if (!open) return;
        open = false;
        clearInterval(heartbeat);
        res.end();
      },
    };
    req.on('close', () => {
      open = false;
      clearInterval(heartbeat);
      this.hub.disconnect(conn);
    });
    try {
      await this.hub.connect(conn);
    } catch (err) {
      this.logger.warn({ err }, 'dashboard snapshot failed');
      conn.close();
    }
  }

  private scopeOf(req: Request) {
    const q = req.query as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    return toScope({ operatorId: str(q.operator_id), projectId: str(q.project_id) });
  }

  private describe(claims: { scope: string; tenancy: { operators?: string[]; projects?: string[] } }) {
    const t = tenancyFilter(claims);
    return t.all ? { city: true } : { operators: t.operatorIds, projects: t.projectIds };
  }

  private refuse(res: Response, err: unknown): void {
    const mapped = toGrpcError(err, () => 'n/a');
    const http =
      mapped.code === status.UNAUTHENTICATED
        ? 401
        : mapped.code === status.PERMISSION_DENIED
          ? 403
          : mapped.code === status.INVALID_ARGUMENT
            ? 400
            : 503;
    if (http === 503) this.logger.warn({ err }, 'dashboard request failed');
    res.status(http).json({ error: mapped.details });
  }
}
