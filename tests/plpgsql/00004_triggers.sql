-- Trigger functions (row and statement level, transition tables) and an event trigger function.
-- +goose Up
CREATE TABLE tg_orders (id serial PRIMARY KEY, status text NOT NULL, updated_at timestamptz);
CREATE TABLE tg_audit (order_id integer, old_status text, new_status text, n_rows integer);

-- +goose StatementBegin
CREATE FUNCTION tg_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
    INSERT INTO tg_audit (order_id, old_status, new_status) VALUES (OLD.id, OLD.status, NEW.status);
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER tg_orders_touch BEFORE INSERT OR UPDATE ON tg_orders
  FOR EACH ROW EXECUTE FUNCTION tg_touch();

-- +goose StatementBegin
CREATE FUNCTION tg_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  SELECT count(*) INTO n FROM new_rows;
  INSERT INTO tg_audit (n_rows) VALUES (n);
  RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER tg_orders_count AFTER INSERT ON tg_orders
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tg_count();

-- +goose StatementBegin
CREATE FUNCTION tg_ddl_note() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'ddl: %', tg_tag;
END $$;
-- +goose StatementEnd

INSERT INTO tg_orders (status) VALUES ('new'), ('new');
UPDATE tg_orders SET status = 'paid' WHERE id = 1;

-- +goose Down
DROP FUNCTION tg_ddl_note();
DROP TABLE tg_orders;
DROP TABLE tg_audit;
DROP FUNCTION tg_count();
DROP FUNCTION tg_touch();
