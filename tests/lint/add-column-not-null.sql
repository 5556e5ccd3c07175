-- +goose Up
ALTER TABLE orders ADD COLUMN channel text NOT NULL;

-- +goose Down
ALTER TABLE orders DROP COLUMN channel;
