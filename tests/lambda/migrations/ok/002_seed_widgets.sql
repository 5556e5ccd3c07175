-- +goose Up
INSERT INTO widgets (id, name) VALUES (1, 'sprocket');
INSERT INTO widgets (id, name) VALUES (2, 'cog');

-- +goose Down
DELETE FROM widgets WHERE id IN (1, 2);
