-- +goose NO TRANSACTION
-- +goose Up
BEGIN;
ALTER TABLE orders ADD COLUMN note text;
UPDATE orders SET note = '' WHERE note IS NULL;
COMMIT;

-- +goose Down
ALTER TABLE orders DROP COLUMN note;
