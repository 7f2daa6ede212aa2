import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { billedCheckout, billedPayment } from './billing.domain';

describe('which payment events can be iot bills (the billing consumer declines the rest unread)', () => {
  it("a parking or charging payment, unless it is a checkout's money part", () => {
    const p = (scenario: PaymentScenario, checkoutId = '') => billedPayment({ scenario, checkoutId });
    expect(p(PaymentScenario.PAYMENT_SCENARIO_PARKING)).toBe(true);
    expect(p(PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING)).toBe(true);
    expect(p(PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING, 'co-1')).toBe(false);
    expect(p(PaymentScenario.PAYMENT_SCENARIO_GOODS)).toBe(false);
    expect(p(PaymentScenario.PAYMENT_SCENARIO_GROUP_BUY)).toBe(false);
  });

  it('an EV charging checkout only', () => {
    expect(billedCheckout({ scenario: PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING })).toBe(true);
    expect(billedCheckout({ scenario: PaymentScenario.PAYMENT_SCENARIO_PARKING })).toBe(false);
    expect(billedCheckout({ scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS })).toBe(false);
  });
});
