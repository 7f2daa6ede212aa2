-- Stand-in of the programmes room's migration (branch points-budgets), replaced when it is merged.
SELECT 1;
