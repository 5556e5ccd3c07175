-- +goose NO TRANSACTION
-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS orders_customer_idx;
CREATE TABLE scratch (a int);
CREATE INDEX scratch_a ON scratch (a);
DROP INDEX scratch_a;

-- +goose Down
DROP INDEX orders_customer_idx;
