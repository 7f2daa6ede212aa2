import { randomUUID } from 'node:crypto';
import { ChannelKind, PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { grpcClient } from './grpc-clients';
import type { SandboxChannelProcess } from './sandbox-channel';
import type { TestIssuer } from './test-issuer';

/**
 * Gives a project of a running payment service an account at a sandbox channel and a routing rule
 * to it, through the real RPCs (catalog as city admin, the rest as the operator). Returns the channel id.
 */
export async function routeProjectToSandbox(opts: {
  paymentAddress: string;
  issuer: TestIssuer;
  sandbox: SandboxChannelProcess;
  operatorId: string;
  projectId: string;
  channelId?: string;
}): Promise<string> {
  const channelId = opts.channelId ?? `sandbox-${randomUUID().slice(0, 8)}`;
  const merchantNo = `m-${opts.projectId}`.slice(0, 64);
  const key = randomUUID() + randomUUID();
  await opts.sandbox.registerMerchant(merchantNo, key);
  const client = grpcClient(PaymentServiceService, opts.paymentAddress);
  try {
    const admin = opts.issuer.metadata({ scopes: ['payment:channels.admin', 'city:admin'] });
    await client.registerChannel(
      {
        requestId: randomUUID(),
        channelId,
        kind: ChannelKind.CHANNEL_KIND_SANDBOX,
        displayName: 'Sandbox',
        endpoint: opts.sandbox.url,
      },
      admin,
    );
    const operator = opts.issuer.metadata({
      scopes: ['payment:channels.write'],
      operators: [opts.operatorId],
    });
    const tenancy = { operatorId: opts.operatorId, projectId: opts.projectId, merchantId: '' };
    await client.configureProjectChannel(
      { requestId: randomUUID(), tenancy, channelId, merchantNo, credentials: key, enabled: true },
      operator,
    );
    await client.setRoutingRules(
      {
        requestId: randomUUID(),
        tenancy,
        rules: [{ channelId, priority: 0, weight: 1, scenarios: [], minAmountMinor: 0n, maxAmountMinor: 0n }],
      },
      operator,
    );
    return channelId;
  } finally {
    client.close();
  }
}
