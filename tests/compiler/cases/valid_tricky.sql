-- +goose Up
SELECT 'it''s; fine';
SELECT E'it\'s; fine';
SELECT "quoted;ident" FROM (SELECT 1 AS "quoted;ident") s;
SELECT 1; /* closed; */
SELECT $a$ $b$ inner $b$; $a$;
-- +goose StatementBegin
CREATE FUNCTION g() RETURNS int AS $$
BEGIN
    RETURN 1;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION g();
