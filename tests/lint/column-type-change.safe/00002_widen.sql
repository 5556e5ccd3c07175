-- +goose Up
ALTER TABLE orders ALTER COLUMN code TYPE varchar(40);
ALTER TABLE orders ALTER COLUMN code TYPE text;
ALTER TABLE orders ALTER COLUMN price TYPE numeric(14,2);

-- +goose Down
ALTER TABLE orders ALTER COLUMN code TYPE varchar(20);
ALTER TABLE orders ALTER COLUMN price TYPE numeric(10,2);
