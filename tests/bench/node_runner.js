#!/usr/bin/env node
// tests/bench/node_runner.js - the kind of migration runner the seeds' Node Lambdas use, for
// the benchmarks: one `pg` client, a history table, and for each pending .sql file (sorted by
// name) BEGIN, the file as one query, the history row, COMMIT.
//
//   DATABASE_URL=postgres://... node tests/bench/node_runner.js DIR
'use strict';
const fs = require('fs');
const path = require('path');
const { Client } = require('pg');

async function main() {
  const dir = process.argv[2];
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    await client.query('CREATE TABLE IF NOT EXISTS node_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await client.query('SELECT name FROM node_migrations')).rows.map((r) => r.name));
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
    let applied = 0;
    for (const f of files) {
      if (done.has(f)) continue;
      const sql = fs.readFileSync(path.join(dir, f), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO node_migrations (name) VALUES ($1)', [f]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw new Error(`${f}: ${e.message}`);
      }
      applied++;
    }
    console.log(`applied ${applied} of ${files.length}`);
  } finally {
    await client.end();
  }
}

main().catch((e) => { console.error(e.message); process.exit(1); });
