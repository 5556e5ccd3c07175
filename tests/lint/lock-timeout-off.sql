-- +goose Up
SET lock_timeout = 0;
ALTER TABLE orders ADD COLUMN note text;
SET LOCAL lock_timeout TO '0s';
RESET lock_timeout;
SET lock_timeout TO DEFAULT;
SELECT pg_catalog.set_config('lock_timeout', '0', true);

-- +goose Down
ALTER TABLE orders DROP COLUMN note;
