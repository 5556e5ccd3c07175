-- goose rule: parser.go:241-242: SQL before the Up annotation is goose's own error
-- (state 0), not a silent drop.
CREATE TABLE early (id int);
-- +goose Up
CREATE TABLE t (id int);
