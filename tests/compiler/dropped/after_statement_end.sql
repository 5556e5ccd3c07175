-- goose rule: parser.go:171-180 fall through to :258-262 (store, back to state Up);
-- lines after a StatementEnd without a terminating ';' before the end of the
-- section are goose's unfinished-statement error, not a drop.
-- +goose Up
-- +goose StatementBegin
CREATE TABLE t (id int);
-- +goose StatementEnd
CREATE INDEX t_id ON t (id)
-- +goose Down
DROP TABLE t;
