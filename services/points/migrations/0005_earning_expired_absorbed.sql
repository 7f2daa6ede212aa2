-- Of what refunds reversed (earnings.reversed): the part the earned lot's expiry had already
-- removed. The holder never used those points, so a refund neither takes them from other lots nor
-- records them as debt (docs/points.md "Earning", refunds).
ALTER TABLE earnings
  ADD COLUMN expired_absorbed bigint NOT NULL DEFAULT 0
    CHECK (expired_absorbed >= 0 AND expired_absorbed <= reversed);
