-- +goose Up
ALTER TYPE order_status ADD VALUE 'refunded';
CREATE TYPE channel AS ENUM ('web');
ALTER TYPE channel ADD VALUE 'app';
INSERT INTO channels VALUES ('app');

-- +goose Down
UPDATE orders SET status = 'cancelled' WHERE status = 'refunded';
