-- goose rule: parser.go:282-284: SQL left without ';' at the end of the file is
-- goose's own error (in the Down pass), not a drop.
-- +goose Up
CREATE TABLE t (id int);

-- +goose Down
DROP TABLE t
