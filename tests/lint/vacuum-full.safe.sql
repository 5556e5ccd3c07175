-- +goose NO TRANSACTION
-- +goose Up
VACUUM orders;
VACUUM (FULL false, ANALYZE) order_lines;
ANALYZE orders;

-- +goose Down
VACUUM FULL orders;
