-- RETURN QUERY, RETURN QUERY EXECUTE, RETURNS SETOF a table's row type.
-- +goose Up
CREATE TABLE rq_items (id integer PRIMARY KEY, name text NOT NULL);
INSERT INTO rq_items VALUES (1, 'a'), (2, 'b'), (3, 'c');

-- +goose StatementBegin
CREATE FUNCTION rq_all() RETURNS SETOF rq_items LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY SELECT * FROM rq_items ORDER BY id;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rq_dynamic(tbl regclass, lim integer) RETURNS TABLE(id integer, name text)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT id, name FROM %s ORDER BY id LIMIT $1', tbl) USING lim;
  IF NOT FOUND THEN
    RAISE NOTICE 'empty';
  END IF;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rq_twice() RETURNS SETOF integer LANGUAGE plpgsql AS $body$
BEGIN
  RETURN QUERY SELECT id FROM rq_items WHERE id = 1;
  RETURN QUERY VALUES (100), (200);
  RETURN;
END
$body$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION rq_twice();
DROP FUNCTION rq_dynamic(regclass, integer);
DROP FUNCTION rq_all();
DROP TABLE rq_items;
