-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION f() RETURNS text AS $$
    SELECT 'x';
$ LANGUAGE sql;
-- +goose StatementEnd
