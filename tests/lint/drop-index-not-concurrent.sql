-- +goose Up
DROP INDEX orders_customer_idx;

-- +goose Down
CREATE INDEX orders_customer_idx ON orders (customer_id);
