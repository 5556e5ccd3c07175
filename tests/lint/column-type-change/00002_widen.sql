-- +goose Up
ALTER TABLE orders ALTER COLUMN qty TYPE bigint;
ALTER TABLE orders ALTER COLUMN code TYPE varchar(10);
ALTER TABLE orders ALTER COLUMN price TYPE numeric(12,4);
ALTER TABLE orders ALTER COLUMN code TYPE text USING upper(code);
ALTER TABLE customers ALTER COLUMN name TYPE text;

-- +goose Down
ALTER TABLE orders ALTER COLUMN qty TYPE integer;
