-- Budgets (services/points/src/budgets, docs/points.md "Budgets"): one node per period (YYYY-MM,
-- city time UTC+8) and level: the city (empty ids), an operator, a project of the operator. A node
-- can never issue or hand down more than it was allotted: the CHECK budgets_within_allotment is
-- the enforcement (issuance is one UPDATE ... SET issued = issued + n on one node, refused by it),
-- not a read-then-write.
CREATE TABLE budgets (
  budget_id            uuid        PRIMARY KEY,
  period               text        NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  level                text        NOT NULL CHECK (level IN ('CITY', 'OPERATOR', 'PROJECT')),
  operator_id          text        NOT NULL DEFAULT '',
  project_id           text        NOT NULL DEFAULT '',
  -- the node one level up in the same period; none for the city
  parent_id            uuid        REFERENCES budgets (budget_id),
  allotted             bigint      NOT NULL DEFAULT 0 CHECK (allotted >= 0),
  -- Σ allotted of the children (kept in the same statement as a child's change)
  allotted_to_children bigint      NOT NULL DEFAULT 0 CHECK (allotted_to_children >= 0),
  -- issued at this node itself, net of reversals
  issued               bigint      NOT NULL DEFAULT 0 CHECK (issued >= 0),
  redeemed             bigint      NOT NULL DEFAULT 0 CHECK (redeemed >= 0),
  expired              bigint      NOT NULL DEFAULT 0 CHECK (expired >= 0),
  updated_by           text        NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT budgets_within_allotment CHECK (issued + allotted_to_children <= allotted),
  CONSTRAINT budgets_level_shape CHECK (
    (level = 'CITY' AND operator_id = '' AND project_id = '' AND parent_id IS NULL)
    OR (level = 'OPERATOR' AND operator_id <> '' AND project_id = '' AND parent_id IS NOT NULL)
    OR (level = 'PROJECT' AND operator_id <> '' AND project_id <> '' AND parent_id IS NOT NULL)
  ),
  CONSTRAINT budgets_node UNIQUE (period, operator_id, project_id)
);

-- ListBudgets: the children of a node, by operator then project id (the page token).
CREATE INDEX budgets_children ON budgets (parent_id, operator_id, project_id);
