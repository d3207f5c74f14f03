-- Signatures v2 (docs/SECURITY.md, "Upgrading"): when this stack started to sign every request
-- for one purpose, method and path. It runs in the same `pulumi up` just before the Worker that
-- verifies v2 goes live: a run created before it may still report with a v1 signature, from the
-- Modal code that was running then, for one report timeout after it; no later run ever may.
INSERT OR IGNORE INTO scheduler_state (key, value) VALUES ('signing_v2_since', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
