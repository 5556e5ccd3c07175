-- +goose Up
CLUSTER orders USING orders_created_idx;

-- +goose Down
CLUSTER orders USING orders_pkey;
