-- Keys are replaced per entity on every visible change: find them by entity.
CREATE INDEX entity_keys_by_entity ON entity_keys (entity_id);
