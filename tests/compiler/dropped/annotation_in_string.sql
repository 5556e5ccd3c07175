-- goose rule: parser.go:127-196 read a line whose trimmed text starts with '--'
-- and holds the goose marker as an annotation before anything else, even inside a
-- statement's string literal: the line vanishes from the string.
-- +goose Up
INSERT INTO note (body) VALUES ('how to write a migration:
-- +goose NO TRANSACTION
means the file runs outside a transaction');

-- +goose Down
DELETE FROM note;
