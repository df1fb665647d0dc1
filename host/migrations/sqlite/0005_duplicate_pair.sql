-- A change that adds a record a manual domain of uniqueness matched keeps
-- the pair in columns of its own (it was JSON in `diff`, found again with
-- LIKE). Held runs from before keep their pairs.
ALTER TABLE changes ADD COLUMN duplicate_of TEXT;
ALTER TABLE changes ADD COLUMN duplicate_domain TEXT;
UPDATE changes
   SET duplicate_of = json_extract(diff, '$.duplicate_of'),
       duplicate_domain = json_extract(diff, '$.domain'),
       diff = NULL
 WHERE action = 'add' AND diff LIKE '%"duplicate_of"%';
