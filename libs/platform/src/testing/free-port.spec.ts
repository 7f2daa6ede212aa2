import { createServer } from 'net';

type Kit = typeof import('./test-kit');

/** A second copy of the test kit, as another test process on the machine would have it. */
function anotherProcessKit(): Kit {
  let kit: Kit | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    kit = require('./test-kit') as Kit;
  });
  return kit!;
}

describe('freePort', () => {
  it('hands out bindable ports below the ephemeral range, never the same one twice, also across processes', async () => {
    const a = anotherProcessKit();
    const b = anotherProcessKit();
    const ports = await Promise.all(
      Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? a.freePort() : b.freePort())),
    );
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(32_768);
    }
    // still free for the test to bind
    await new Promise<void>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(ports[0], '127.0.0.1', () => srv.close(() => resolve()));
    });
  });
});
