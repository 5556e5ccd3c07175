-- gosling:allow prefer-identity the ORM of this service expects serial (file-wide)
-- +goose Up
CREATE TABLE audit_log (id serial, at timestamptz);
-- gosling:allow drop-table legacy_orders has been unused since release 4.2
DROP TABLE legacy_orders;
DROP TABLE legacy_lines;
DROP TABLE legacy_notes; -- gosling:allow drop-table,drop-column archived to S3 in OPS-7
-- gosling:allow drop-column
ALTER TABLE orders DROP COLUMN coupon;
-- gosling:allow no-such-rule because
-- gosling:allow rename-table nothing here renames a table
ALTER TABLE orders ADD COLUMN note text;

-- +goose Down
-- gosling:allow drop-table the Down section is not linted
DROP TABLE audit_log;
