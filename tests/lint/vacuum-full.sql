-- +goose NO TRANSACTION
-- +goose Up
VACUUM FULL orders;
VACUUM (FULL, ANALYZE) order_lines;

-- +goose Down
VACUUM FULL orders;
