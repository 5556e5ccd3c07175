-- +goose Up
ALTER TYPE order_status ADD VALUE 'refunded';
UPDATE orders SET status = 'refunded' WHERE refunded_at IS NOT NULL;

-- +goose Down
UPDATE orders SET status = 'cancelled' WHERE status = 'refunded';
