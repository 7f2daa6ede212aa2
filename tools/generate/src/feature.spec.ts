import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { generateFeature, nextMigration, registerModule } from './feature';
import { main } from './main';
import { featureNames, singular } from './names';
import { generateService, Refusal } from './service';
import { REGISTRY_PATHS, scratchTree } from './testing';

// Generated files are formatted by prettier in a child process (src/format.ts): seconds, not milliseconds.
jest.setTimeout(60_000);

describe('feature <service> <feature>', () => {
  it('creates the room, a numbered migration, registers the module and refuses a second run', async () => {
    // a service fresh from the generator, without rooms (every real service has its own now)
    const tree = scratchTree(REGISTRY_PATHS);
    try {
      await generateService(tree, 'parking', { owns: 'parking lots' });
      const written = await generateFeature(tree, 'parking', 'reservations');
      const dir = 'services/parking/src/reservations';
      expect(written.created).toEqual([
        `${dir}/reservations.module.ts`,
        `${dir}/reservations.grpc.ts`,
        `${dir}/reservations.errors.ts`,
        `${dir}/reservations.domain.ts`,
        `${dir}/reservations.domain.spec.ts`,
        `${dir}/reservations.store.ts`,
        `${dir}/reservations.service.ts`,
        'services/parking/migrations/0001_reservations.sql',
      ]);
      expect(written.edited).toEqual(['services/parking/src/parking.module.ts', 'docs/parking.md']);
      expect(tree.need('services/parking/src/parking.module.ts')).toBe(
        [
          "import { Module } from '@nestjs/common';",
          "import { ReservationsModule } from './reservations/reservations.module';",
          '',
          "/** The parking service's features. Each feature folder adds its gRPC controller and providers here. */",
          '@Module({ imports: [ReservationsModule] })',
          'export class ParkingModule {}',
          '',
        ].join('\n'),
      );
      const service = tree.need(`${dir}/reservations.service.ts`);
      // the example mutations go through the pipeline, one of them with a target and a replay
      expect(service.match(/this\.mutations\.run\(/g)).toHaveLength(2);
      expect(service).toMatch(
        /target: \{\s+load: \(client\) => lockReservation\(client, cmd\.reservationId\)/,
      );
      expect(service).toContain("method: 'ParkingService.ArchiveReservation'");
      expect(service).toContain('replay: ({ client }) => this.current(client, cmd.reservationId)');
      expect(tree.need(`${dir}/reservations.domain.ts`)).toContain(
        "pageCursor('parking.reservations', keyPart.timestamp, keyPart.uuid)",
      );
      expect(tree.need('services/parking/migrations/0001_reservations.sql')).toContain(
        'CREATE TABLE reservations (',
      );
      expect(tree.need('docs/parking.md')).toContain('## Reservations');

      // the next room: the next migration number, appended to the module's imports
      await generateFeature(tree, 'parking', 'lots');
      expect(tree.list('services/parking/migrations')).toEqual([
        '.gitkeep',
        '0001_reservations.sql',
        '0002_lots.sql',
      ]);
      expect(tree.need('services/parking/src/parking.module.ts')).toContain(
        '@Module({ imports: [ReservationsModule, LotsModule] })',
      );

      const before = tree.need('services/parking/src/parking.module.ts');
      await expect(generateFeature(tree, 'parking', 'lots')).rejects.toThrow(Refusal);
      const out: string[] = [];
      expect(await main(['feature', 'parking', 'lots'], tree.root, (s) => out.push(s))).toBe(2);
      expect(out).toEqual([
        'refused: feature lots exists already (services/parking/src/lots); nothing was written',
      ]);
      expect(await main(['feature', 'ghost', 'lots'], tree.root, (s) => out.push(s))).toBe(2);
      expect(await main(['feature', 'parking', 'parking'], tree.root, (s) => out.push(s))).toBe(2);
      expect(await main(['feature', 'parking', 'Bad_Name'], tree.root, (s) => out.push(s))).toBe(2);
      expect(tree.need('services/parking/src/parking.module.ts')).toBe(before);
    } finally {
      tree.dispose();
    }
  });

  it('numbers migrations after the highest one', () => {
    const tree = scratchTree(['services/settlement/migrations']);
    try {
      // the highest migration settlement has, whatever it is today, plus one
      const highest = Math.max(
        ...readdirSync(join(tree.root, 'services/settlement/migrations'))
          .filter((f) => /^\d{4}_.*\.sql$/.test(f))
          .map((f) => Number(f.slice(0, 4))),
      );
      expect(highest).toBeGreaterThan(1);
      expect(nextMigration(tree, 'settlement', 'disputes')).toBe(
        `${String(highest + 1).padStart(4, '0')}_disputes.sql`,
      );
      expect(nextMigration(tree, 'nowhere', 'x')).toBe('0001_x.sql');
    } finally {
      tree.dispose();
    }
  });

  it('registers a module in @Module imports, wherever they stand', () => {
    const add = (text: string) => registerModule('x.module.ts', text, 'NewModule', './new/new.module');
    expect(add("import { Module } from '@nestjs/common';\n@Module({})\nexport class X {}\n")).toBe(
      "import { Module } from '@nestjs/common';\nimport { NewModule } from './new/new.module';\n@Module({ imports: [NewModule],})\nexport class X {}\n",
    );
    expect(
      add(
        "import { Module } from '@nestjs/common';\n@Module({ imports: [A, B,], providers: [P] })\nclass X {}",
      ),
    ).toContain('@Module({ imports: [A, B, NewModule,], providers: [P] })');
    expect(
      add("import { Module } from '@nestjs/common';\n@Module({ imports: [], controllers: [C] })\nclass X {}"),
    ).toContain('@Module({ imports: [NewModule], controllers: [C] })');
    expect(() => add('export class X {}')).toThrow(/no @Module/);
  });

  it('names the example entity in the singular', () => {
    expect(
      [
        'coupons',
        'batches',
        'policies',
        'devices',
        'telemetry',
        'status',
        'access-log',
        'device-commands',
        'keys',
      ].map(singular),
    ).toEqual([
      'coupon',
      'batch',
      'policy',
      'device',
      'telemetry',
      'status',
      'access-log',
      'device-command',
      'key',
    ]);
    expect(featureNames('iot', 'device-commands')).toMatchObject({
      Feature: 'DeviceCommands',
      table: 'device_commands',
      Entity: 'DeviceCommand',
      idColumn: 'device_command_id',
      idProp: 'deviceCommandId',
      label: 'device command',
    });
  });
});
