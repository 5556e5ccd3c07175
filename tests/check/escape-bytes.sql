-- A source line with a terminal escape (ESC [2J), a C1 control (U+009B) and a bell:
-- diagnostics show them as \xHH, never raw (issue 15.8).
-- +goose Up
SELECT '[2J' bad bad;
