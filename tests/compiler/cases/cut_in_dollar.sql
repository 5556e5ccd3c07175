-- +goose Up
CREATE FUNCTION one() RETURNS int AS $body$
BEGIN
    RETURN 1;
END;
$body$ LANGUAGE plpgsql;

-- +goose Down
DROP FUNCTION one();
