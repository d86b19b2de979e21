-- SPDX-License-Identifier: MIT
-- sqlite3 workload for the benchmark (run by bench.py as
-- `sqlite3 :memory: ".read bench/sqlite.sql"`): an in-memory database
-- filled by a recursive CTE, indexed, joined, grouped and updated.
-- Deterministic: no random(), no time.
PRAGMA cache_size = -16384;
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, item TEXT,
                    qty INTEGER, price REAL, note TEXT);
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, city TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO customers SELECT i, 'customer-' || i, 'city-' || (i * 7 % 97) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
INSERT INTO orders SELECT i, (i * 7919) % 5000 + 1, 'item-' || (i * 31 % 1013),
       i % 17 + 1, (i % 1000) / 7.0,
       substr('lorem ipsum dolor sit amet consectetur adipiscing elit ', 1 + i % 40)
       || printf('%08d', i * 13 % 100003) FROM n;
CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX orders_item ON orders(item, qty);
SELECT count(*), sum(qty), round(sum(qty * price), 2) FROM orders;
SELECT c.city, count(*), round(sum(o.qty * o.price), 2) AS total
  FROM orders o JOIN customers c ON c.id = o.customer
  GROUP BY c.city ORDER BY total DESC LIMIT 5;
SELECT item, count(DISTINCT customer) FROM orders GROUP BY item
  ORDER BY 2 DESC, 1 LIMIT 5;
UPDATE orders SET note = upper(note) || '!' WHERE qty > 9;
DELETE FROM orders WHERE id % 5 = 0;
SELECT count(*), length(group_concat(note, '')) FROM orders WHERE qty > 12;
SELECT customer, group_concat(item, ',') FROM
  (SELECT customer, item FROM orders WHERE customer < 40 ORDER BY id)
  GROUP BY customer ORDER BY customer LIMIT 3;
