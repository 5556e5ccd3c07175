-- A body quoted with '...' and '' inside: positions still map to the file.
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION lower_name() RETURNS trigger AS '
BEGIN
  IF TG_OP = ''INSERT'' THEN NEW.name := lower(NEW.name) END IF;
  RETURN NEW;
END' LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION lower_name();
