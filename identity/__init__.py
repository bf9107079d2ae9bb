"""Identity: global accounts (public schema) and per-portal memberships (portal schemas).

Sits between crm (which uses it) and billing/tenants (which it uses); see
docs/decisions/0002-identity-package.md.
"""
