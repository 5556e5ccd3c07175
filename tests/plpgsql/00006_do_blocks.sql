-- DO blocks: loops, exceptions, dynamic SQL, diagnostics, labels.
-- +goose Up
CREATE TABLE do_t (id integer PRIMARY KEY, v text);

-- +goose StatementBegin
DO $$
DECLARE
  r record;
  n integer := 0;
  msg text;
BEGIN
  FOR i IN 1..5 LOOP
    INSERT INTO do_t VALUES (i, 'v' || i);
  END LOOP;
  <<outer>>
  FOR r IN SELECT * FROM do_t ORDER BY id LOOP
    n := n + 1;
    EXIT outer WHEN n >= 3;
    CONTINUE WHEN r.id = 1;
  END LOOP outer;
  BEGIN
    INSERT INTO do_t VALUES (1, 'dup');
  EXCEPTION WHEN unique_violation THEN
    GET STACKED DIAGNOSTICS msg := MESSAGE_TEXT;
    RAISE NOTICE 'caught: %', msg;
  END;
  EXECUTE format('UPDATE %I SET v = upper(v) WHERE id = $1', 'do_t') USING 2;
  GET DIAGNOSTICS n = ROW_COUNT;
  ASSERT n = 1, 'one row';
END
$$;
-- +goose StatementEnd

DO LANGUAGE plpgsql $$ BEGIN PERFORM 1; END $$;

-- +goose StatementBegin
DO $do$
DECLARE
  a integer[] := ARRAY[[1, 2], [3, 4]];
  s integer[];
  c CURSOR (k integer) FOR SELECT id FROM do_t WHERE id > k;
  x integer;
BEGIN
  FOREACH s SLICE 1 IN ARRAY a LOOP
    RAISE NOTICE '%', s;
  END LOOP;
  OPEN c(2);
  LOOP
    FETCH c INTO x;
    EXIT WHEN NOT FOUND;
  END LOOP;
  CLOSE c;
  x := 3;
  WHILE x > 0 LOOP
    x := x - 1;
  END LOOP;
  CASE x WHEN 0 THEN NULL; ELSE RAISE EXCEPTION 'unexpected %', x USING ERRCODE = 'P0001'; END CASE;
END
$do$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE do_t;
