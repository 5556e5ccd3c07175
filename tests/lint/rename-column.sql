-- +goose Up
ALTER TABLE orders RENAME COLUMN total TO amount;

-- +goose Down
ALTER TABLE orders RENAME COLUMN amount TO total;
