-- +goose Up
SET LOCAL lock_timeout = '10s';
SET statement_timeout = 0;
SELECT set_config('lock_timeout', '2s', true);
ALTER TABLE orders ADD COLUMN note text;

-- +goose Down
SET lock_timeout = 0;
