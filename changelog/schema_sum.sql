-- spiral schema, migration 8: spiral.sum_int8, the sum of bigints as a
-- bigint. The rewriter merges partial counts and integer sums with it:
-- PostgreSQL's sum(bigint) accumulates and returns numeric, which costs
-- about as much as the rest of the merge. Out of range raises 22003, as
-- bigint addition does.
CREATE AGGREGATE spiral.sum_int8(int8) (
  SFUNC = int8pl,
  STYPE = int8,
  COMBINEFUNC = int8pl,
  PARALLEL = SAFE
);
