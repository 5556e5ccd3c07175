-- A missing ';' inside a PL/pgSQL function body (PostgreSQL 15 reports it at END IF).
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION double_positive(x int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    y int := 0;
BEGIN
    IF x > 0 THEN
        y := x * 2
    END IF;
    RETURN y;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION double_positive(int);
