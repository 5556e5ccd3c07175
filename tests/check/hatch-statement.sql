-- The marker covers the next statement only; there a parse failure and a
-- transaction-safety refusal are warnings (issue 15.4).
-- +goose Up
CREATE TABLE t (a int);
-- gosling:no-check: PostgreSQL 17 syntax
CREATE INDEX t_a ON t (a) WITH FUTURE SYNTAX;
-- gosling:no-check
CREATE INDEX CONCURRENTLY t_b ON t (a);
SELECT bad bad bad;

-- +goose Down
DROP TABLE t;
