import { toTimestamp } from '@citybase/platform';
import { uniqueName, waitFor } from '@citybase/platform/testing';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { PaymentEvents } from '@citybase/contracts/events';
import { DataHarness, startDataHarness } from './data-harness';

interface SseMessage {
  event: string;
  id: string;
  data: Record<string, unknown>;
  at: number;
}

/** Reads a server-sent-events stream into `messages` until aborted. */
function openStream(
  url: string,
  token: string,
): { messages: SseMessage[]; status: Promise<number>; close(): void } {
  const abort = new AbortController();
  const messages: SseMessage[] = [];
  const status = fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal }).then(
    async (res) => {
      if (res.status !== 200 || !res.body) return res.status;
      void (async () => {
        const decoder = new TextDecoder();
        let buf = '';
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buf += decoder.decode(chunk, { stream: true });
            let i: number;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const f = Object.fromEntries(
                block
                  .split('\n')
                  .filter((l) => !l.startsWith(':') && l.includes(': '))
                  .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
              );
              if (f.event)
                messages.push({ event: f.event, id: f.id, data: JSON.parse(f.data), at: Date.now() });
            }
          }
        } catch {
          // aborted
        }
      })();
      return res.status;
    },
  );
  return { messages, status, close: () => abort.abort() };
}

type Panel = { panelId: string; figures: { name: string; value: string }[] };
const gmvOf = (panels: Panel[]) =>
  panels.find((p) => p.panelId === 'payments')?.figures.find((f) => f.name === 'gmv')?.value;

describe('data: the live dashboard over HTTP', () => {
  let h: DataHarness;
  const opA = uniqueName('opA');
  const opB = uniqueName('opB');
  const tokenOf = (operators: string[]) => h.issuer.token({ scopes: ['data:read'], operators });
  const paid = (operatorId: string, amount: bigint) =>
    h.publish('payment', PaymentEvents.PaymentSucceeded, {
      paymentId: uniqueName('pay'),
      tenancy: { operatorId, projectId: `${operatorId}-p`, merchantId: 'm' },
      merchantId: 'm',
      scenario: PaymentScenario.PAYMENT_SCENARIO_PARKING,
      amount: { currency: 'CNY', amountMinor: amount },
      channel: 'sandbox',
      occurredAt: toTimestamp(new Date()),
      channelTransactionId: 'tx',
      profitSharing: false,
      payerRef: 'payer',
      checkoutId: '',
    });

  beforeAll(async () => {
    h = await startDataHarness('data-dashboard');
  }, 120_000);
  afterAll(() => h?.stop());

  it('serves the page with landmarks and the charting library from this service (no CDN)', async () => {
    const page = await fetch(`${h.svc.httpUrl}/dashboard`);
    expect(page.status).toBe(200);
    const html = await page.text();
    for (const landmark of ['<header role="banner">', '<main', '<footer role="contentinfo">', '<h1>'])
      expect(html).toContain(landmark);
    expect(html).not.toMatch(/https?:\/\//);
    const uplot = await fetch(`${h.svc.httpUrl}/dashboard/assets/uPlot.iife.min.js`);
    expect(uplot.status).toBe(200);
    expect(await uplot.text()).toContain('uPlot');
    expect((await fetch(`${h.svc.httpUrl}/dashboard/assets/..%2Fpackage.json`)).status).toBe(404);
  });

  it('refuses the data without a token (401) and a foreign scope (403)', async () => {
    expect((await fetch(`${h.svc.httpUrl}/dashboard/snapshot`)).status).toBe(401);
    expect((await fetch(`${h.svc.httpUrl}/dashboard/events`)).status).toBe(401);
    const res = await fetch(`${h.svc.httpUrl}/dashboard/snapshot?operator_id=${opA}`, {
      headers: { authorization: `Bearer ${tokenOf([opB])}` },
    });
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain(opA + '"');
  });

  it("streams a snapshot then deltas of the operator's own panels, each at most 1-2 per second", async () => {
    const first = await paid(opA, 1200n);
    const other = await paid(opB, 99_900n);
    await h.settled([first, other]);
    const stream = openStream(`${h.svc.httpUrl}/dashboard/events`, tokenOf([opA]));
    try {
      expect(await stream.status).toBe(200);
      await waitFor('the snapshot', async () => (stream.messages.length > 0 ? true : undefined));
      expect(stream.messages[0]!.event).toBe('snapshot');
      expect(gmvOf(stream.messages[0]!.data.panels as Panel[])).toBe('1200');
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        ids.push(await paid(opA, 100n));
        ids.push(await paid(opB, 1n));
        await new Promise((r) => setTimeout(r, 100));
      }
      await h.settled(ids);
      await waitFor('a delta with every payment', async () =>
        stream.messages.some((m) => m.event === 'delta' && gmvOf(m.data.panels as Panel[]) === '2400')
          ? true
          : undefined,
      );
      // the server sends a connection at most one delta per DATA_DASHBOARD_MIN_INTERVAL_MS (300 ms here)
      const deltas = stream.messages
        .filter((m) => m.event === 'delta')
        .map((m) => Date.parse(m.data.generatedAt as string));
      expect(deltas.length).toBeGreaterThan(0);
      for (let i = 1; i < deltas.length; i++) expect(deltas[i]! - deltas[i - 1]!).toBeGreaterThanOrEqual(300);
      // none of operator B's figures reach A
      expect(JSON.stringify(stream.messages)).not.toContain(opB);
      expect(stream.messages.map((m) => gmvOf(m.data.panels as Panel[])).filter(Boolean)).not.toContain(
        '99900',
      );
    } finally {
      stream.close();
    }
    // a reconnect starts again from a snapshot of the current state
    const again = openStream(`${h.svc.httpUrl}/dashboard/events`, tokenOf([opA]));
    try {
      await waitFor('the snapshot after reconnecting', async () =>
        again.messages.length > 0 ? true : undefined,
      );
      expect(again.messages[0]!.event).toBe('snapshot');
      expect(gmvOf(again.messages[0]!.data.panels as Panel[])).toBe('2400');
    } finally {
      again.close();
    }
  });
});
