-- +goose Up
ALTER TABLE orders ADD COLUMN channel text NOT NULL DEFAULT 'web';
ALTER TABLE orders ADD COLUMN coupon text;
CREATE TABLE carts (id bigint PRIMARY KEY);
ALTER TABLE carts ADD COLUMN owner text NOT NULL;

-- +goose Down
ALTER TABLE orders ADD COLUMN x text NOT NULL;
