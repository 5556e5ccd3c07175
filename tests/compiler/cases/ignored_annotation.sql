-- +goose Up
CREATE TABLE t (id int);
-- +GOOSE DOWN
DROP TABLE t;
