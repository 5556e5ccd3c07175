-- Command counts come from PostgreSQL's parser: BEGIN ATOMIC bodies and rule
-- actions are one command; empty commands do not count.
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION plus_one(a int) RETURNS int LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    SELECT a + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TABLE a (x int); CREATE TABLE b (x int);;
CREATE RULE r AS ON INSERT TO a DO ALSO (INSERT INTO b VALUES (1); INSERT INTO b VALUES (2));
-- +goose StatementEnd

-- +goose Down
DROP TABLE b; DROP TABLE a; DROP FUNCTION plus_one(int);
