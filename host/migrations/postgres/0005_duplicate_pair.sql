-- A change that adds a record a manual domain of uniqueness matched keeps
-- the pair in columns of its own (it was JSON in `diff`, found again with
-- LIKE). Held runs from before keep their pairs.
ALTER TABLE changes ADD COLUMN duplicate_of TEXT;
ALTER TABLE changes ADD COLUMN duplicate_domain TEXT;
UPDATE changes
   SET duplicate_of = diff::json ->> 'duplicate_of',
       duplicate_domain = diff::json ->> 'domain',
       diff = NULL
 WHERE action = 'add' AND diff LIKE '%"duplicate_of"%';
