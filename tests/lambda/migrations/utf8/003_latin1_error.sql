-- +goose NO TRANSACTION
-- +goose Up
SET client_encoding = 'LATIN1';
-- PostgreSQL's message quotes 'café', sent in LATIN1: the byte 0xe9 is not UTF-8
SELECT ('caf' || chr(233))::int;
