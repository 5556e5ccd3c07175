-- +goose Up
CREATE TABLE archive (id bigint PRIMARY KEY);
CLUSTER archive USING archive_pkey;
ALTER TABLE orders CLUSTER ON orders_created_idx;

-- +goose Down
CLUSTER orders USING orders_pkey;
