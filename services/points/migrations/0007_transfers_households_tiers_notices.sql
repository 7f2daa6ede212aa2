-- Transfers, households, tiers and expiry notices (services/points/src/{accounts,households,tiers},
-- docs/points.md "Transfers", "Households", "Tiers", "Expiry notices").

-- A TRANSFER_IN lot (source 3) is a copy of the part of one sender's lot it received: same issuer,
-- budget and expiry. from_lot_id names that lot (NULL for every other source), so a budget's issued
-- counts only original lots (a transfer moves a liability, it issues nothing).
ALTER TABLE lots
  ADD COLUMN from_lot_id uuid REFERENCES lots,
  ADD CONSTRAINT lots_transfer_origin CHECK ((source = 3) = (from_lot_id IS NOT NULL));

-- The PointsExpiring notice of a lot: set in the statement that picks the lot for its notice, so a
-- lot is noticed once (also with two replicas at once).
ALTER TABLE lots ADD COLUMN expiry_noticed_at timestamptz;
-- The notice job: lots not noticed yet, by expiry.
CREATE INDEX lots_notice_due ON lots (expires_at) WHERE expiry_noticed_at IS NULL AND remaining > held;

-- A household's members in one operator's programme: their earnings go to the household's account,
-- attributed to the member (lots.member_id, points_entries.member_id). A user is in at most one
-- household per programme (the primary key).
CREATE TABLE household_members (
  operator_id  text        NOT NULL,
  member_id    text        NOT NULL,
  household_id text        NOT NULL,
  added_by     text        NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (operator_id, member_id),
  CHECK (member_id <> household_id)
);
CREATE INDEX household_members_household ON household_members (operator_id, household_id, member_id);

-- Tiers: an account's rolling earnings (earnings paid in the programme's window, net of reversals).
CREATE INDEX earnings_rolling ON earnings (account_id, paid_at);
