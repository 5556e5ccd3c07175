-- +goose Up
CREATE TABLE orders (id bigint PRIMARY KEY, code varchar(20), qty integer, price numeric(10,2));

-- +goose Down
DROP TABLE orders;
