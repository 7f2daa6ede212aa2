import {
  requestFingerprint,
  requestId,
  requiredEnum,
  requiredMoney,
  requiredString,
  optionalString,
} from '@citybase/platform';
import { PaymentScenario, RecordPaymentRequest } from '@citybase/contracts/citybase/payment/v1/payment';

const ID = {
  max: 64,
  pattern: /^[A-Za-z0-9._:-]+$/,
  patternRule: 'must be 1-64 letters, digits, dots, dashes, colons or underscores',
};

export interface RecordPaymentCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  merchantId: string;
  scenario: PaymentScenario;
  currency: string;
  amountMinor: bigint;
  payerRef: string;
  description: string;
}

/** Validates a RecordPayment request into a command; throws INVALID_ARGUMENT naming the field. */
export function toRecordPaymentCommand(req: RecordPaymentRequest): RecordPaymentCommand {
  const money = requiredMoney('amount', req.amount, { currencies: ['CNY'] });
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, ID),
    projectId: requiredString('tenancy.project_id', req.tenancy?.projectId, ID),
    merchantId: requiredString('merchant_id', req.merchantId, ID),
    scenario: requiredEnum('scenario', req.scenario, PaymentScenario) as PaymentScenario,
    currency: money.currency,
    amountMinor: money.amountMinor,
    payerRef: requiredString('payer_ref', req.payerRef, { max: 128 }),
    description: optionalString('description', req.description, { max: 256 }),
  };
}

export function fingerprint(cmd: RecordPaymentCommand): string {
  return requestFingerprint(cmd);
}
