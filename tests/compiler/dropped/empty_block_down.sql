-- goose rule: parser.go:200-205 and :207-209, in the Down section: the line after
-- an empty StatementBegin/StatementEnd block is dropped.
-- +goose Up
CREATE TABLE t (id int);

-- +goose Down
-- +goose StatementBegin
-- +goose StatementEnd
DROP TABLE t;
