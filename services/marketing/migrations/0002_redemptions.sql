-- Redemptions and QR token keys (services/marketing/src/redemptions; docs/marketing.md "Model",
-- rules 3 and 4). Every change of a redemption happens under its coupon's row lock (coupons FOR
-- UPDATE); transitions are UPDATE ... WHERE status = <expected>; the indexes below make the rules
-- the database's too: a coupon has at most one open-or-confirmed redemption, a (coupon, reference)
-- is confirmed once (a payment retried twice redeems once), a token nonce is used once.

-- One use of a coupon:
--   kind        CHECKOUT (ReserveCoupon) | TOKEN (IssueRedemptionToken: held until exp + grace)
--   status      HELD > CONFIRMED | CANCELLED | EXPIRED; CONFIRMED > ROLLED_BACK (full refund)
--   operator_id, project_id, merchant_id  where it is (to be) redeemed: the basket's for a
--               checkout; for a token '' until it is scanned, then the scanning merchant's
--   reference   what it pays for (checkout or payment id); a full refund of that payment rolls a
--               CONFIRMED redemption back
--   expires_at  a HELD redemption ends then (hold expiry job, or confirm past it)
--   token_nonce the token's nonce (its redemption id) for TOKEN redemptions
--   scanned_at  when the token was scanned (offline scans are submitted later)
CREATE TABLE redemptions (
  redemption_id   uuid        PRIMARY KEY,
  coupon_id       uuid        NOT NULL REFERENCES coupons,
  campaign_id     uuid        NOT NULL REFERENCES campaigns,
  user_id         text        NOT NULL,
  kind            text        NOT NULL CHECK (kind IN ('CHECKOUT', 'TOKEN')),
  status          text        NOT NULL CHECK (status IN ('HELD', 'CONFIRMED', 'CANCELLED', 'EXPIRED', 'ROLLED_BACK')),
  operator_id     text        NOT NULL,
  project_id      text        NOT NULL DEFAULT '',
  merchant_id     text        NOT NULL DEFAULT '',
  reference       text        NOT NULL DEFAULT '',
  currency        text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  basket_total    bigint      NOT NULL DEFAULT 0 CHECK (basket_total >= 0),
  discount        bigint      NOT NULL DEFAULT 0 CHECK (discount >= 0 AND discount <= basket_total),
  token_nonce     text        UNIQUE,
  scanned_at      timestamptz,
  offline         boolean     NOT NULL DEFAULT false,
  created_by      text        NOT NULL DEFAULT '',
  ended_by        text        NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at      timestamptz NOT NULL,
  confirmed_at    timestamptz,
  ended_at        timestamptz,
  CHECK ((kind = 'TOKEN') = (token_nonce IS NOT NULL)),
  CHECK ((status = 'HELD') = (ended_at IS NULL)),
  CHECK ((status IN ('CONFIRMED', 'ROLLED_BACK')) = (confirmed_at IS NOT NULL)),
  CHECK (expires_at > created_at)
);

-- A coupon is held or redeemed by at most one redemption at a time.
CREATE UNIQUE INDEX redemptions_one_open_per_coupon ON redemptions (coupon_id)
  WHERE status IN ('HELD', 'CONFIRMED');
-- A (coupon, reference) is confirmed once: a retried payment redeems once.
CREATE UNIQUE INDEX redemptions_confirmed_once ON redemptions (coupon_id, reference)
  WHERE status = 'CONFIRMED';
-- The hold expiry job: HELD redemptions by deadline.
CREATE INDEX redemptions_held_expiry ON redemptions (expires_at) WHERE status = 'HELD';
-- The refund rollback: CONFIRMED redemptions of a payment (reference).
CREATE INDEX redemptions_confirmed_by_reference ON redemptions (reference) WHERE status = 'CONFIRMED';
CREATE INDEX redemptions_by_coupon ON redemptions (coupon_id, created_at DESC);

-- ES256 keys signing QR tokens. The newest one not retired signs; the two newest are published
-- (GetTokenKeys), so tokens signed just before a rotation still verify offline. The first is made
-- on first use (under an advisory lock: one key however many processes start at once).
CREATE TABLE token_keys (
  kid          text        PRIMARY KEY,
  public_jwk   jsonb       NOT NULL,
  -- PKCS#8 DER of the P-256 private key
  private_key  bytea       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  retired_at   timestamptz
);

CREATE INDEX token_keys_newest ON token_keys (created_at DESC);
