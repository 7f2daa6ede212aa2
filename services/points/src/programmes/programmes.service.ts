import { Inject, Injectable } from '@nestjs/common';
import { assertTenancy, CitybaseClaims, Mutations, PG_POOL, Pool, PoolClient } from '@citybase/platform';
import type { ProgrammeTerms, SetProgrammeCommand } from './programmes.domain';
import { ProgrammesErrors } from './programmes.errors';
import { programmeTerms } from './programmes.render';
import { findProgramme, ProgrammeRow, upsertProgramme } from './programmes.store';

/**
 * One programme per operator (docs/points.md "Programmes"). Only the operator's own clients (or a
 * city admin) set or read it: another operator's is PERMISSION_DENIED, like settlement's split
 * rules. A change applies to what happens after it (lots already issued keep their expiry).
 */
@Injectable()
export class ProgrammesService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
  ) {}

  async setProgramme(claims: CitybaseClaims, cmd: SetProgrammeCommand): Promise<ProgrammeRow> {
    assertTenancy(claims, { operatorId: cmd.operatorId });
    // a repeat answers the programme as it is now (another request may have changed it since)
    const current = async ({ client }: { client: PoolClient }) =>
      (await findProgramme(client, cmd.operatorId))!;
    const { requestId: _requestId, ...terms } = cmd;
    return this.mutations.run({
      method: 'PointsService.SetProgramme',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async (ctx) => {
        ctx.note({ operator_id: cmd.operatorId, tiers: cmd.tiers.length });
        await upsertProgramme(ctx.client, terms, claims.sub);
        return current(ctx);
      },
      replay: current,
    });
  }

  async getProgramme(claims: CitybaseClaims, q: { operatorId: string }): Promise<ProgrammeRow> {
    assertTenancy(claims, { operatorId: q.operatorId });
    const row = await findProgramme(this.pool, q.operatorId);
    if (!row) throw ProgrammesErrors.notFound(q.operatorId);
    return row;
  }

  /**
   * The operator's programme for other rooms (accounts, issuance, earning), read with `client`
   * (their transaction). FAILED_PRECONDITION PROGRAMME_NOT_SET when the operator has none.
   */
  async get(client: PoolClient | Pool, operatorId: string): Promise<ProgrammeTerms> {
    const terms = await this.find(client, operatorId);
    if (!terms) throw ProgrammesErrors.notSet(operatorId);
    return terms;
  }

  /** The operator's programme for other rooms' reads, undefined when it has none. */
  async find(client: PoolClient | Pool, operatorId: string): Promise<ProgrammeTerms | undefined> {
    const row = await findProgramme(client, operatorId);
    return row && programmeTerms(row);
  }
}
