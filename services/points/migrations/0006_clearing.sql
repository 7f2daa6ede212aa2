-- Clearing (docs/points.md "Liability and clearing"): where a reservation's points are spent
-- (redeemed_at, by default the request's tenancy), and the obligations its confirmation creates for
-- the issuers that differ from it.

ALTER TABLE reservations
  ADD COLUMN redeemed_operator_id text,
  ADD COLUMN redeemed_project_id  text NOT NULL DEFAULT '',
  ADD COLUMN redeemed_merchant_id text NOT NULL DEFAULT '';
UPDATE reservations
   SET redeemed_operator_id = operator_id, redeemed_project_id = project_id, redeemed_merchant_id = merchant_id;
ALTER TABLE reservations ALTER COLUMN redeemed_operator_id SET NOT NULL;

-- Points of one issuer (the lots' operator and project) spent at another operator or project: the
-- debtor owes the creditor their money value at the programme's point value. One per (reservation,
-- issuer), written with the confirmation.
CREATE TABLE clearing_obligations (
  obligation_id        uuid        PRIMARY KEY,
  reservation_id       uuid        NOT NULL REFERENCES reservations,
  debtor_operator_id   text        NOT NULL,
  debtor_project_id    text        NOT NULL DEFAULT '',
  creditor_operator_id text        NOT NULL,
  creditor_project_id  text        NOT NULL DEFAULT '',
  creditor_merchant_id text        NOT NULL DEFAULT '',
  points               bigint      NOT NULL CHECK (points > 0),
  currency             text        NOT NULL,
  amount_minor         bigint      NOT NULL CHECK (amount_minor >= 0),
  created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (reservation_id, debtor_operator_id, debtor_project_id),
  CHECK (debtor_operator_id <> creditor_operator_id OR debtor_project_id <> creditor_project_id)
);
