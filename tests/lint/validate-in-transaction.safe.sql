-- +goose NO TRANSACTION
-- +goose Up
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;

-- +goose Down
ALTER TABLE orders DROP CONSTRAINT orders_total_positive;
