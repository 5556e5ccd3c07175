-- RETURN NEXT in every shape PostgreSQL 15 accepts.  The first function is
-- libpg_query issue #248's own example: Debian's libpg-query 15-4.0.0 refuses it
-- ("missing expression at or near ";""), gosling's patched build accepts it.
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION rn_table(s integer, e integer)
  RETURNS TABLE(id integer) AS $$
BEGIN
  id := s;
LOOP
  EXIT WHEN id > e;
  RETURN NEXT;
  id := id + 1;
END LOOP;
END
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rn_out(n integer, OUT k integer, OUT sq integer)
  RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..n LOOP
    k := i;
    sq := i * i;
    RETURN NEXT;
  END LOOP;
  RETURN;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rn_inout(INOUT x integer) RETURNS SETOF integer LANGUAGE plpgsql AS $$
BEGIN
  RETURN NEXT;
  x := x + 1;
  RETURN NEXT;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rn_unnamed_out(OUT integer) RETURNS SETOF integer LANGUAGE plpgsql AS $$
BEGIN
  $1 := 7;
  RETURN NEXT;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rn_setof_expr(n integer) RETURNS SETOF integer LANGUAGE plpgsql AS $$
DECLARE
  v integer;
BEGIN
  FOR v IN 1..n LOOP
    RETURN NEXT v * 10;
  END LOOP;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rn_setof_record() RETURNS SETOF pg_catalog.pg_namespace LANGUAGE plpgsql AS $$
DECLARE
  r pg_catalog.pg_namespace%ROWTYPE;
BEGIN
  FOR r IN SELECT * FROM pg_catalog.pg_namespace WHERE nspname = 'public' LOOP
    RETURN NEXT r;
  END LOOP;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rn_table_two(n integer) RETURNS TABLE(a integer, b text) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..n LOOP
    a := i; b := 'row ' || i;
    RETURN NEXT;
  END LOOP;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION rn_table_two(integer);
DROP FUNCTION rn_setof_record();
DROP FUNCTION rn_setof_expr(integer);
DROP FUNCTION rn_unnamed_out();
DROP FUNCTION rn_inout(integer);
DROP FUNCTION rn_out(integer);
DROP FUNCTION rn_table(integer, integer);
