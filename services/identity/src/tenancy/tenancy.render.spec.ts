import { ProjectKind } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { toBuilding, toProject } from './tenancy.render';

const created = new Date('2026-03-04T05:06:07.890Z');

describe('rendering rows as proto messages', () => {
  it('renders a project and a building with its units', () => {
    expect(
      toProject({
        project_id: 'p-1',
        operator_id: 'op-1',
        name: 'Lakeside',
        kind: ProjectKind.PROJECT_KIND_SCENIC,
        created_at: created,
        cursor_at: '',
      }),
    ).toMatchObject({ projectId: 'p-1', operatorId: 'op-1', kind: ProjectKind.PROJECT_KIND_SCENIC });
    const unit = {
      unit_id: 'u-1',
      building_id: 'b-1',
      project_id: 'p-1',
      operator_id: 'op-1',
      name: '1-302',
      floor: -1,
      created_at: created,
    };
    expect(
      toBuilding({
        building: {
          building_id: 'b-1',
          project_id: 'p-1',
          operator_id: 'op-1',
          name: 'Block 1',
          created_at: created,
          cursor_at: '',
        },
        units: [unit],
      }),
    ).toEqual({
      buildingId: 'b-1',
      projectId: 'p-1',
      operatorId: 'op-1',
      name: 'Block 1',
      units: [{ unitId: 'u-1', buildingId: 'b-1', name: '1-302', floor: -1 }],
    });
  });
});
