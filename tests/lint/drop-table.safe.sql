-- +goose Up
CREATE TABLE tmp_import (id bigint);
DROP TABLE tmp_import;
-- gosling:allow drop-table nothing has read legacy_orders since release 4.2 (ticket OPS-118)
DROP TABLE legacy_orders;

-- +goose Down
DROP TABLE orders;
