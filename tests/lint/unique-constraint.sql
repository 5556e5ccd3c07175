-- +goose Up
ALTER TABLE orders ADD CONSTRAINT orders_ref_key UNIQUE (ref);
ALTER TABLE orders ADD PRIMARY KEY (id);
ALTER TABLE orders ADD COLUMN slug text UNIQUE;

-- +goose Down
ALTER TABLE orders DROP CONSTRAINT orders_ref_key;
