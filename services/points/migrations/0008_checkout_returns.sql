-- Points given back by a refund of the checkout they paid for (payment's CheckoutRefunded;
-- docs/points.md "Returns on checkout refunds"): a RETURNED lot (source 4) per lot the redemption
-- took them from, with that lot's issuer and budget (from_lot_id names it), created by a RETURNED
-- entry (kind 14) of the reservation whose reference is the checkout refund's id.
ALTER TABLE lots DROP CONSTRAINT lots_source_check;
ALTER TABLE lots ADD CONSTRAINT lots_source_check CHECK (source BETWEEN 1 AND 4);
ALTER TABLE lots DROP CONSTRAINT lots_transfer_origin;
ALTER TABLE lots ADD CONSTRAINT lots_transfer_origin CHECK ((source IN (3, 4)) = (from_lot_id IS NOT NULL));
ALTER TABLE points_entries DROP CONSTRAINT points_entries_kind_check;
ALTER TABLE points_entries ADD CONSTRAINT points_entries_kind_check CHECK (kind BETWEEN 1 AND 14);
-- one return per checkout refund and reservation
CREATE UNIQUE INDEX points_entries_returned ON points_entries (reservation_id, reference) WHERE kind = 14;
