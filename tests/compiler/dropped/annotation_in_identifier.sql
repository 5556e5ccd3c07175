-- goose rule: parser.go:127-196 take an annotation-shaped line out of a quoted
-- identifier too: the column's name would lose a line.
-- +goose Up
ALTER TABLE note ADD COLUMN "two
-- +goose ENVSUB OFF
lines" text;

-- +goose Down
ALTER TABLE note DROP COLUMN "two
lines";
