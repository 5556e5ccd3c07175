-- +goose Up
CREATE TABLE t (a int);
CREATE INDEX CONCURRENTLY t_a ON t (a);

-- +goose Down
DROP INDEX t_a;
DROP TABLE t;
