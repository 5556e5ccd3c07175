-- +goose Up
INSERT INTO notes (body) VALUES ('first line;
second line');

-- +goose Down
DELETE FROM notes;
