-- goose cuts a BEGIN ATOMIC body at its first ';': the statement ends early.
-- +goose Up
CREATE FUNCTION plus_one(a int) RETURNS int LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    SELECT a + 1;
END;

-- +goose Down
DROP FUNCTION plus_one(int);
