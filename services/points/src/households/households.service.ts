import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { assertTenancy, CitybaseClaims, Mutations } from '@citybase/platform';
import { createAccount, lockAccount } from '../accounts/accounts.store';
import { ProgrammesService } from '../programmes/programmes.service';
import type { SetHouseholdMembersCommand } from './households.domain';
import { HouseholdsErrors } from './households.errors';
import { householdOf, householdsAmong, markHousehold, membersOf, replaceMembers } from './households.store';

/**
 * Households (docs/points.md "Households"): a household is an account (holder_kind HOUSEHOLD) whose
 * members' earnings go to it, attributed to the member (earning reads `householdOf`). A user is in
 * at most one household per programme; the member list is replaced as a whole, under the household
 * account's row lock.
 */
@Injectable()
export class HouseholdsService {
  constructor(
    private readonly mutations: Mutations,
    private readonly programmes: ProgrammesService,
  ) {}

  async setHouseholdMembers(
    claims: CitybaseClaims,
    cmd: SetHouseholdMembersCommand,
  ): Promise<{ householdId: string; memberIds: string[] }> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId || undefined });
    return this.mutations.run({
      method: 'PointsService.SetHouseholdMembers',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      done: 'household members set',
      execute: async ({ client, note }) => {
        await this.programmes.get(client, cmd.operatorId);
        const accountId = await createAccount(client, {
          accountId: randomUUID(),
          operatorId: cmd.operatorId,
          holderId: cmd.householdId,
        });
        await lockAccount(client, accountId);
        const of = await householdOf(client, cmd.operatorId, cmd.householdId);
        if (of) throw HouseholdsErrors.householdIsMember(cmd.householdId, of);
        const households = await householdsAmong(client, cmd.operatorId, cmd.memberIds);
        if (households[0]) throw HouseholdsErrors.memberIsHousehold(households[0]);
        await markHousehold(client, accountId);
        const refused = await replaceMembers(
          client,
          cmd.operatorId,
          cmd.householdId,
          cmd.memberIds,
          claims.sub,
        );
        if (refused[0]) {
          const other = (await householdOf(client, cmd.operatorId, refused[0])) ?? 'another household';
          throw HouseholdsErrors.memberOfAnother(refused[0], other);
        }
        note({ household_id: cmd.householdId, members: cmd.memberIds.length });
        return { householdId: cmd.householdId, memberIds: cmd.memberIds };
      },
      replay: async ({ client }) => ({
        householdId: cmd.householdId,
        memberIds: await membersOf(client, cmd.operatorId, cmd.householdId),
      }),
    });
  }
}
