-- Autovacuum starts on a table once its changes pass a share of its rows (20% by default). On a
-- large tasks table that share is hundreds of thousands of writes, and until a vacuum marks pages
-- all-visible, the list's count and page read the table's heap beside their index: on a database
-- of 1M tasks that only took inserts, 118k rows under the threshold made index-only scans fetch
-- 29,282 heap pages. At 2% a vacuum and an analyze follow every 20,000 changes per million rows,
-- for inserts too (PostgreSQL 13 and later).
ALTER TABLE "tasks" SET (
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_insert_scale_factor = 0.02,
  autovacuum_analyze_scale_factor = 0.02
);
