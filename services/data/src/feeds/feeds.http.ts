import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  DomainError,
  InfrastructureError,
  Logger,
  LOGGER,
  RPC_AUTHENTICATOR,
  RpcAuthenticator,
  toGrpcError,
} from '@citybase/platform';
import { status } from '@grpc/grpc-js';
import { toPullQuery } from './feeds.domain';
import { FeedFormatName, FeedsService } from './feeds.service';

const PULL_SCOPE = 'data:feeds.pull';

const HTTP_STATUS: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.NOT_FOUND]: 404,
  [status.FAILED_PRECONDITION]: 409,
  [status.ALREADY_EXISTS]: 409,
  [status.ABORTED]: 409,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.UNAVAILABLE]: 503,
};

/**
 * Feeds over HTTP on the data service's HTTP port, for agencies without gRPC:
 *   GET /feeds/<grant>/<dataset>?cursor=&limit=&format=ndjson|csv&filter=<field>:<value>&group_by=<field>
 *     the rows as NDJSON or CSV; the pull id in the X-Citybase-Pull-Id header, the manifest's
 *     rows, sha256 and next cursor in the trailers (X-Citybase-Rows, -Sha256, -Next-Cursor);
 *   GET /feeds/pulls/<pull>/evidence   the manifest and the evidence bundle as JSON.
 * Authorization: Bearer <token> with scope data:feeds.pull, the grant's agency client. Errors are
 * JSON {code, message, field} with the HTTP status of their gRPC status (429 with Retry-After). A
 * pull that fails after rows were sent (revocation, no evidence) aborts the response.
 */
@Controller('feeds')
export class FeedsHttp {
  constructor(
    private readonly feeds: FeedsService,
    @Inject(RPC_AUTHENTICATOR) private readonly auth: RpcAuthenticator,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Get('pulls/:pullId/evidence')
  async evidence(@Param('pullId') pullId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    try {
      const claims = await this.auth.authenticateHttp(req.headers.authorization, PULL_SCOPE);
      if (!/^[0-9a-f-]{36}$/.test(pullId)) throw DomainError.invalid('pull_id', 'must be a UUID');
      res.status(200).json(await this.feeds.evidenceOf(claims, pullId));
    } catch (err) {
      this.refuse(res, err);
    }
  }

  @Get(':grantId/:datasetId')
  async pull(
    @Param('grantId') grantId: string,
    @Param('datasetId') datasetId: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    let started = false;
    try {
      const claims = await this.auth.authenticateHttp(req.headers.authorization, PULL_SCOPE);
      const query = req.query as Record<string, string | string[] | undefined>;
      const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
      const one = (v: string | string[] | undefined) => list(v)[0] ?? '';
      const formatText = one(query['format']) || 'ndjson';
      if (formatText !== 'ndjson' && formatText !== 'csv')
        throw DomainError.invalid('format', 'must be ndjson or csv');
      const format: FeedFormatName = formatText === 'csv' ? 'CSV' : 'NDJSON';
      const filters = new Map<string, string[]>();
      list(query['filter']).forEach((f) => {
        const at = f.indexOf(':');
        if (at <= 0) throw DomainError.invalid('filter', 'must be <field>:<value>');
        filters.set(f.slice(0, at), [...(filters.get(f.slice(0, at)) ?? []), f.slice(at + 1)]);
      });
      const limit = one(query['limit']) || '0';
      if (!/^[0-9]{1,12}$/.test(limit)) throw DomainError.invalid('limit', 'must be a whole number');
      const q = toPullQuery(
        {
          grantId,
          datasetId,
          cursor: one(query['cursor']),
          limit: Number(limit),
          filters: [...filters].map(([field, values]) => ({ field, values })),
          groupBy: list(query['group_by'])
            .flatMap((g) => g.split(','))
            .filter((g) => g !== ''),
        },
        this.feeds.limits,
      );
      let closed = false;
      res.on('close', () => (closed = true));
      const sink = {
        write: async (text: string) => {
          if (closed) throw new Error('the client went away');
          if (!started) {
            started = true;
            res.status(200);
            res.setHeader(
              'Content-Type',
              format === 'CSV' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
            );
            res.setHeader(
              'Trailer',
              'X-Citybase-Pull-Id, X-Citybase-Rows, X-Citybase-Sha256, X-Citybase-Next-Cursor',
            );
          }
          if (!res.write(text)) {
            await new Promise<void>((resolve) => {
              res.once('drain', resolve);
              res.once('close', resolve);
            });
          }
        },
      };
      const { manifest } = await this.feeds.pull(claims, q, format, sink);
      if (!started) {
        started = true;
        res.status(200);
        res.setHeader('Content-Type', format === 'CSV' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
        res.setHeader(
          'Trailer',
          'X-Citybase-Pull-Id, X-Citybase-Rows, X-Citybase-Sha256, X-Citybase-Next-Cursor',
        );
      }
      res.addTrailers({
        'X-Citybase-Pull-Id': manifest.pull_id,
        'X-Citybase-Rows': String(manifest.rows),
        'X-Citybase-Sha256': manifest.sha256,
        'X-Citybase-Next-Cursor': manifest.next_cursor,
      });
      res.end();
    } catch (err) {
      if (started) {
        // rows went out already: the pull has no manifest, and the response must not look complete
        this.logger.info({ err: (err as Error).message }, 'feed pull over HTTP aborted');
        res.destroy();
        return;
      }
      this.refuse(res, err);
    }
  }

  private refuse(res: Response, err: unknown): void {
    const mapped = toGrpcError(err, () => 'http');
    const code = HTTP_STATUS[mapped.code] ?? 500;
    if (code === 500 && !(err instanceof DomainError) && !(err instanceof InfrastructureError))
      this.logger.error({ err }, 'feed HTTP request failed');
    if (mapped.retryAfterSeconds !== undefined)
      res.setHeader('Retry-After', String(mapped.retryAfterSeconds));
    res.status(code).json({
      code: mapped.domainCode ?? status[mapped.code],
      message: code === 500 ? 'internal error' : mapped.details,
      ...(mapped.field && { field: mapped.field }),
    });
  }
}
