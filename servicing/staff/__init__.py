"""Staff users, roles, sessions, two-factor authentication, maker-checker and the audit log.

Pure core: `permissions` (catalogue, default roles, grant matching), `passwords` (policy,
argon2id), `totp` (RFC 6238, recovery codes), `audit_chain` (hash chain), `scope` (office
subtree). Shell: `users`, `sessions`, `roles`, `audit`, `maker_checker`, `bootstrap`."""
