-- PL/pgSQL's compiler errors too, not only its grammar: an unknown variable.
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION count_rows() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO total FROM pg_class;
    RETURN n;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION count_rows();
