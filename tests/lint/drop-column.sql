-- +goose Up
ALTER TABLE orders DROP COLUMN coupon, DROP COLUMN IF EXISTS legacy_code;

-- +goose Down
ALTER TABLE orders ADD COLUMN coupon text;
