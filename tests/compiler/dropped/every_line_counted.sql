-- goose rule: every line of both sections is blank, a comment, an annotation or in
-- exactly one statement; goose runs all of it, so the build passes.
-- +goose NO TRANSACTION

-- +goose Up
-- a comment before the first statement
CREATE TABLE t (
    id int, -- an inline comment
    -- a comment inside a statement
    note text
);

/* a block comment
   on two lines */ CREATE INDEX CONCURRENTLY t_id ON t (id);
-- +goose StatementBegin
-- the block's own comment
CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RETURN 1;
END
$$;
-- +goose StatementEnd
SELECT 1; SELECT 2;

-- +goose Down
-- +goose StatementBegin
DROP FUNCTION f();
-- +goose StatementEnd
DROP TABLE t;
