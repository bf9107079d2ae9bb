"""Database helpers every portal schema uses for search (crm.core.search).

Extensions live in ``public`` and are reached through the search_path django-tenants sets
(``<schema>, public``). ``unaccent`` is only STABLE, so it cannot back an index or a generated
column; the wrappers below pin the dictionary and are declared IMMUTABLE (the usual recipe).
"""

from django.db import migrations

FUNCTIONS = r"""
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
CREATE OR REPLACE FUNCTION public.kompas_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;
CREATE OR REPLACE FUNCTION public.kompas_search_doc(VARIADIC parts text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT public.kompas_unaccent(lower(array_to_string(parts, ' '))) $$;
"""

class Migration(migrations.Migration):
    dependencies = [("tenants", "0004_portal_logo")]
    operations = [migrations.RunSQL(FUNCTIONS, reverse_sql=migrations.RunSQL.noop)]
