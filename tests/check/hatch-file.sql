-- gosling:no-check  (the whole file: written for an extension's grammar)
-- +goose Up
CREATE TABLE t (a int);
CREATE STREAM s AS SELECT 1;

-- +goose Down
DROP STREAM s;
DROP TABLE t;
