-- gosling:allow drop-column the application stopped reading both columns in release 7 (PR 912)
-- +goose Up
ALTER TABLE orders DROP COLUMN coupon, DROP COLUMN legacy_code;
CREATE TABLE t (a int, b int);
ALTER TABLE t DROP COLUMN b;

-- +goose Down
ALTER TABLE orders DROP COLUMN total;
