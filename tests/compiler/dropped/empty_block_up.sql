-- goose rule: parser.go:200-205 skip a '--' line while nothing is buffered, so the
-- StatementEnd of a block that holds no SQL never stores and resets the state;
-- parser.go:207-209 then leave the next line out of the buffer: goose drops it.
-- +goose Up
CREATE TABLE t (id int);
-- +goose StatementBegin
-- nothing here yet
-- +goose StatementEnd
ALTER TABLE t ADD COLUMN note text;
INSERT INTO t VALUES (1);

-- +goose Down
DROP TABLE t;
