-- Valid PL/pgSQL and PostgreSQL 15 features: no diagnostics.
-- +goose Up
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, data jsonb);
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION f1(p_id users.id%TYPE, OUT o_name text, INOUT cnt int)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    r users%ROWTYPE;
    rec record;
    arr int[] := ARRAY[1,2];
    c CURSOR FOR SELECT * FROM users;
    n int;
BEGIN
    SELECT * INTO STRICT r FROM users WHERE id = p_id;
    o_name := r.name;
    FOR rec IN SELECT * FROM users LOOP
        cnt := cnt + 1;
    END LOOP;
    FOREACH n IN ARRAY arr LOOP
        CONTINUE WHEN n = 1;
    END LOOP;
    EXECUTE format('SELECT count(*) FROM %I', 'users') INTO n;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM pg_sleep(0);
    RAISE NOTICE 'x %', n USING HINT = 'h';
    ASSERT n >= 0, 'neg';
    CASE WHEN n > 1 THEN NULL; ELSE NULL; END CASE;
    RETURN;
EXCEPTION
    WHEN no_data_found THEN o_name := NULL;
    WHEN OTHERS THEN RAISE;
END
$fn$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION trg() RETURNS trigger AS '
BEGIN
  IF TG_OP = ''INSERT'' THEN NEW.name := lower(NEW.name); END IF;
  RETURN NEW;
END' LANGUAGE plpgsql;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION tab() RETURNS TABLE (id bigint, name text) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT u.id, u.name FROM users u;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE PROCEDURE p() LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  COMMIT;
  INSERT INTO users (name) VALUES ('a') RETURNING id INTO STRICT n;
END $$;
-- +goose StatementEnd
CREATE FUNCTION s(a int) RETURNS int LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT a + 1; END;
CREATE FUNCTION c() RETURNS int LANGUAGE c AS 'lib', 'sym';
DO LANGUAGE plpgsql $$ BEGIN PERFORM 1; END $$;
CREATE INDEX ON users USING gin (data jsonb_path_ops);
ALTER TABLE users ADD COLUMN x int;
ALTER TYPE mood ADD VALUE 'x';
ANALYZE users;
MERGE INTO users u USING users v ON u.id = v.id WHEN MATCHED THEN DO NOTHING;

-- +goose Down
DROP TABLE users;
