import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  inTenancy,
  Mutations,
  pageOf,
  PG_POOL,
  Pool,
  tenancyFilter,
  toTimestamp,
} from '@citybase/platform';
import { DataEvents } from '@citybase/contracts/events';
import { AccessLog } from '../access-log/access-log.service';
import { findDataset } from '../catalog/catalog.store';
import type { DatasetWithFields } from '../catalog/catalog.store';
import { checkAgainstCatalog, GrantErrors, GRANTS_PAGE, IssueGrantCommand } from './grants.domain';
import { grantToProto } from './grants.render';
import { findGrant, GrantRow, insertGrant, listGrants, revokeGrant } from './grants.store';

/** Whose rows a grant gives: an operator's (and project's), or the city's (no ids). */
export function grantorTenancy(g: Pick<GrantRow, 'operator_id' | 'project_id'>) {
  return { operatorId: g.operator_id, ...(g.project_id !== '' && { projectId: g.project_id }) };
}

/** The grantor sees and changes a grant: the operator inside whose tenancy it is, or the city admin. */
export function grantorSees(claims: CitybaseClaims, g: GrantRow): boolean {
  if (g.operator_id === '') return tenancyFilter(claims).all;
  return inTenancy(claims, grantorTenancy(g));
}

/**
 * Grants (docs/data.md "Grants"): an operator grants its own rows (the grant's tenancy), the city
 * any rows; the agency's API client named by the grant pulls. Issue and revoke are entries of the
 * access log and events (GrantIssued, GrantRevoked), in the same transaction as the grant.
 */
@Injectable()
export class GrantsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
    private readonly log: AccessLog,
  ) {}

  async issue(claims: CitybaseClaims, cmd: IssueGrantCommand): Promise<GrantRow> {
    if (cmd.operatorId === '') {
      if (!tenancyFilter(claims).all) throw GrantErrors.cityOnly();
    } else {
      assertTenancy(claims, grantorTenancy({ operator_id: cmd.operatorId, project_id: cmd.projectId }));
    }
    return this.mutations.run({
      method: 'DataService.IssueGrant',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async ({ client, resourceId, emit, note }) => {
        const catalog = new Map<string, DatasetWithFields>();
        for (const g of cmd.datasets) {
          const d = await findDataset(client, g.dataset_id);
          if (d) catalog.set(d.dataset_id, d);
        }
        checkAgainstCatalog(cmd, catalog);
        const row = await insertGrant(client, resourceId, cmd, randomBytes(16).toString('hex'), claims.sub);
        await this.log.append(client, 'grant.issued', {
          grant_id: row.grant_id,
          grant_version: Number(row.version),
          by: claims.sub,
          operator_id: row.operator_id,
          project_id: row.project_id,
          agency_id: row.agency_id,
          agency_client_id: row.agency_client_id,
          datasets: row.datasets.map((d) => ({
            dataset_id: d.dataset_id,
            fields: d.fields.map((f) => ({ name: f.name, masking: f.masking })),
          })),
          row_filter: { districts: row.row_filter.districts, project_ids: row.row_filter.project_ids },
          purpose: row.purpose,
          valid_from: row.valid_from.toISOString(),
          valid_until: row.valid_until.toISOString(),
          quota_rows_per_day: row.quota_rows_per_day,
        });
        await emit(
          DataEvents.GrantIssued,
          { grant: grantToProto(row), occurredAt: toTimestamp(row.created_at) },
          { key: row.grant_id, tenancy: grantorTenancy(row) },
        );
        note({ grant_id: row.grant_id, agency_id: row.agency_id });
        return row;
      },
      replay: async ({ client, resourceId }) => (await findGrant(client, resourceId))!,
    });
  }

  async revoke(
    claims: CitybaseClaims,
    cmd: { requestId: string; grantId: string; reason: string },
  ): Promise<GrantRow> {
    return this.mutations.run({
      method: 'DataService.RevokeGrant',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.grantId,
      target: {
        load: async (client) => {
          const g = await findGrant(client, cmd.grantId, true);
          // the city's grants are the city admin's: anyone else is answered as for a missing grant
          return g && (g.operator_id !== '' || tenancyFilter(claims).all) ? g : undefined;
        },
        tenancy: (g: GrantRow) => (g.operator_id === '' ? { operatorId: '' } : grantorTenancy(g)),
        notFound: () => GrantErrors.notFound(cmd.grantId),
      },
      execute: async ({ client, target, emit, note }) => {
        if (target.status === 'REVOKED') return target;
        const row = await revokeGrant(client, target.grant_id, cmd.reason);
        await this.log.append(client, 'grant.revoked', {
          grant_id: row.grant_id,
          grant_version: Number(row.version),
          by: claims.sub,
          reason: cmd.reason,
        });
        await emit(
          DataEvents.GrantRevoked,
          {
            grantId: row.grant_id,
            tenancy: { operatorId: row.operator_id, projectId: row.project_id, merchantId: '' },
            agencyId: row.agency_id,
            reason: cmd.reason,
            grantVersion: BigInt(row.version),
            occurredAt: toTimestamp(row.revoked_at!),
          },
          { key: row.grant_id, tenancy: grantorTenancy(row) },
        );
        note({ grant_id: row.grant_id });
        return row;
      },
      replay: async ({ client }) => (await findGrant(client, cmd.grantId))!,
    });
  }

  /** One grant, for its grantor or its agency's client; anyone else is answered NOT_FOUND. */
  async get(claims: CitybaseClaims, grantId: string): Promise<GrantRow> {
    const g = await findGrant(this.pool, grantId);
    if (!g || !(grantorSees(claims, g) || g.agency_client_id === claims.sub))
      throw GrantErrors.notFound(grantId);
    return g;
  }

  async list(
    claims: CitybaseClaims,
    q: { agencyId: string; size: number; after: { createdAt: string; grantId: string } | undefined },
  ) {
    const t = tenancyFilter(claims);
    const rows = await listGrants(this.pool, {
      ...q,
      all: t.all,
      operatorIds: t.all ? [] : t.operatorIds,
      projectIds: t.all ? [] : t.projectIds,
      clientId: claims.sub,
    });
    return pageOf(rows, q.size, GRANTS_PAGE, (r) => [r.created_at.toISOString(), r.grant_id] as const);
  }
}
