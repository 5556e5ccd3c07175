-- +goose Up
ALTER TABLE orders ADD COLUMN amount numeric;
CREATE TABLE notes (id bigint PRIMARY KEY, txt text);
ALTER TABLE notes RENAME COLUMN txt TO body;

-- +goose Down
ALTER TABLE orders RENAME COLUMN amount TO total;
