-- +goose Up
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE UNIQUE INDEX orders_ref_idx ON shop.orders (ref);

-- +goose Down
DROP INDEX orders_customer_idx;
DROP INDEX shop.orders_ref_idx;
