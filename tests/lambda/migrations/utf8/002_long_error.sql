-- +goose Up
-- PostgreSQL's message, detail and hint, each longer than gosling keeps: cut mid-character
-- (600 two-byte characters cut at 1,023 bytes; 300 three-byte ones at 511)
-- +goose StatementBegin
DO $$
BEGIN
	RAISE EXCEPTION '%', repeat('é', 600)
		USING DETAIL = repeat('ü', 600), HINT = repeat('€', 300);
END
$$;
-- +goose StatementEnd
