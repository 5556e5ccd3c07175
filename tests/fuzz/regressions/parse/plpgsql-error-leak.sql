-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION f() RETURNS trigger AS $x$ BEGIN RETURN NEW ~; END; $x$ LANGUAGE plpgsql;
-- +goose StatementEnd
