-- +goose Up
DROP TABLE legacy_orders;
DROP TABLE IF EXISTS audit.old_events, tmp_import;

-- +goose Down
CREATE TABLE legacy_orders (id bigint);
