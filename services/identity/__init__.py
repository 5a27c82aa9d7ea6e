"""The identity service. Accounts, credentials, sessions, MFA, lockout and suspension."""
