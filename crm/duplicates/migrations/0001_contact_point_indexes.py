"""Indexes for the duplicate check: "which records have this e-mail / phone" (``emails @> '[{"value": …}]'``)
answered from a GIN jsonb_path_ops index on each list, ~1 ms on a million contacts. The tables belong to
crm_contacts and crm_leads; the indexes live here because only this app asks that question."""

from django.db import migrations

TABLES = {"contact": "crm_contacts_contact", "company": "crm_contacts_company", "lead": "crm_leads_lead"}

FORWARD = "\n".join(
    f"CREATE INDEX IF NOT EXISTS dup_{code}_{column} ON {table} USING gin ({column} jsonb_path_ops);"
    for code, table in TABLES.items() for column in ("emails", "phones"))
BACKWARD = "\n".join(f"DROP INDEX IF EXISTS dup_{code}_{column};" for code in TABLES for column in ("emails", "phones"))


class Migration(migrations.Migration):
    dependencies = [("crm_contacts", "0002_case_insensitive_city"), ("crm_leads", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, reverse_sql=BACKWARD)]
