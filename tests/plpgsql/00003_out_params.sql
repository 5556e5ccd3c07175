-- OUT and INOUT parameters: bare RETURN, assignment, a record of several.
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION op_split(full_name text, OUT first text, OUT last text) LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  first := split_part(full_name, ' ', 1);
  last := split_part(full_name, ' ', 2);
  IF last = '' THEN
    last := NULL;
    RETURN;
  END IF;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION op_inc(INOUT counter bigint, step integer DEFAULT 1) LANGUAGE plpgsql AS $$
BEGIN
  counter := counter + step;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION op_alias(integer, text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  n ALIAS FOR $1;
  label ALIAS FOR $2;
BEGIN
  RETURN repeat(label, n);
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION op_alias(integer, text);
DROP FUNCTION op_inc(bigint, integer);
DROP FUNCTION op_split(text);
