-- goose rule: parser.go:147-153: SQL buffered without ';' when the Down annotation
-- comes is goose's own error, not a drop into the Down section.
-- +goose Up
CREATE TABLE t (id int);
ALTER TABLE t ADD COLUMN note text

-- +goose Down
DROP TABLE t;
