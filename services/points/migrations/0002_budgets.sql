-- Stand-in of the budgets room's migration (branch points-budgets), replaced when it is merged.
SELECT 1;
