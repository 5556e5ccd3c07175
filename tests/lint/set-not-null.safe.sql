-- +goose NO TRANSACTION
-- +goose Up
ALTER TABLE orders ADD CONSTRAINT orders_customer_nn CHECK (customer_id IS NOT NULL) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_nn;
ALTER TABLE orders ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE orders DROP CONSTRAINT orders_customer_nn;

-- +goose Down
ALTER TABLE orders ALTER COLUMN customer_id DROP NOT NULL;
