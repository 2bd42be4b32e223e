"""Storage: SQL tables, the write path (group commit) and storage errors."""
