-- A run's arguments (a JSON object as text, NULL for none) and the result summary its job reported.
ALTER TABLE runs ADD COLUMN args TEXT;
ALTER TABLE runs ADD COLUMN result TEXT;
