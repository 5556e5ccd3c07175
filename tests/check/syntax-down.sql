-- +goose Up
CREATE TABLE t (a int);

-- +goose Down
DROP TABLE t
    CASCADE RESTRICT;
