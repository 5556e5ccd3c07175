-- goose rule: parser.go:319-350 (extractAnnotation): text after an annotation's
-- keyword makes it an unsupported annotation, goose's own error, so no SQL can
-- hide on an annotation line.
-- +goose Up
CREATE TABLE t (id int);
-- +goose Down DROP TABLE t;
