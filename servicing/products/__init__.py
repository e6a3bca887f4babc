"""Product catalogue commands and queries: create, change (a new version), read, list,
versions, deactivate, and the posting preview. One unit of work per command."""
