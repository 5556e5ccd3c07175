-- +goose Up
CREATE TABLE t (id int);
-- +GOOSE UP

-- +Goose StatementBegin
SELECT 'a;
-- +goose Down
-- +GOOSE DOWN
DROP TABLE t;
	SELECT "b;
