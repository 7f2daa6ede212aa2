-- recorded_payments belonged to the probe consumer of the event backbone's first slice
-- (settlement.payments, RPC GetRecordedPayment). Escrow is the real consumer of payment's events
-- now, and the backbone's chaos tests run against it; the probe, its RPC and its table are gone.
DROP TABLE IF EXISTS recorded_payments;
