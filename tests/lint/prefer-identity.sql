-- +goose Up
CREATE TABLE customers (id bigserial PRIMARY KEY, legacy_no serial);

-- +goose Down
DROP TABLE customers;
