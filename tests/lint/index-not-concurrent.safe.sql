-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);
CREATE TABLE invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id bigint);
CREATE INDEX invoices_order_idx ON invoices (order_id);

-- +goose Down
DROP INDEX orders_customer_idx;
CREATE INDEX orders_x ON orders (x);
