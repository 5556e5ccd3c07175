-- +goose Up
ALTER TABLE orders ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_note_nn CHECK (note IS NOT NULL) NOT VALID;
ALTER TABLE orders ALTER COLUMN note SET NOT NULL;

-- +goose Down
ALTER TABLE orders ALTER COLUMN customer_id DROP NOT NULL;
