-- +goose Up
CREATE TABLE staging_orders (id bigint PRIMARY KEY);
ALTER TABLE staging_orders RENAME TO imported_orders;
ALTER TABLE imported_orders ADD COLUMN note text NOT NULL;

-- +goose Down
ALTER TABLE imported_orders RENAME TO staging_orders;
