"""The template schema new portal schemas are cloned from when the warm pool is empty.

Cloning uses django-tenants' ``clone_schema`` SQL function (pg-clone-schema). Checked against
our schemas it copies tables, data (django_migrations, roles, content types), identity
sequences with their values, generated columns, trigram indexes and foreign keys to the public
schema correctly, but it names unique constraints its own way (``…_key`` instead of Django's
``…_uniq`` or our named constraints) and makes an integer identity sequence ``bigint``. A later
migration that drops such a constraint by name would then fail on cloned portals only. So every
clone is *repaired* (constraint names, sequence types copied from the template) and *verified*:
its catalogue signature must equal the template's, or the clone is refused and the caller
migrates instead. docs/decisions/0023.
"""

from __future__ import annotations

import hashlib

import structlog
from django.db import connection, transaction
from django_tenants.clone import CloneSchema

from tenants.models import TemplateSchema

log = structlog.get_logger(__name__)

# One row per catalogue object, with the schema's own name replaced by "S" (schema-independent).
_CATALOGUE_SQL = r"""
SELECT 'col', c.relname || '.' || a.attname, format_type(a.atttypid, a.atttypmod)
       || ' notnull=' || a.attnotnull::text || ' gen=' || a.attgenerated::text || ' id=' || a.attidentity::text
       || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = %(schema)s::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
   AND c.relkind IN ('r', 'p', 'v', 'm')
UNION ALL
SELECT 'con', t.relname || '.' || con.conname, con.contype::text || ' ' || pg_get_constraintdef(con.oid)
  FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid
 WHERE con.connamespace = %(schema)s::regnamespace
UNION ALL
SELECT 'idx', i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = %(schema)s
UNION ALL
SELECT 'seq', s.sequencename, s.data_type::text || ' ' || s.increment_by::text || ' ' || s.cycle::text
  FROM pg_sequences s WHERE s.schemaname = %(schema)s
UNION ALL
SELECT 'fn', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', md5(p.prosrc)
  FROM pg_proc p WHERE p.pronamespace = %(schema)s::regnamespace
UNION ALL
SELECT 'trg', t.tgname, pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = %(schema)s::regnamespace AND NOT t.tgisinternal
"""


def catalogue(schema_name: str) -> list[tuple[str, str, str]]:
    """The schema's structure as sorted rows (kind, name, definition), independent of its name."""
    with connection.cursor() as cursor:
        cursor.execute(_CATALOGUE_SQL, {"schema": schema_name})
        rows = cursor.fetchall()
    quoted, plain = f'"{schema_name}".', f"{schema_name}."
    return sorted((kind, name, (definition or "").replace(quoted, "S.").replace(plain, "S."))
                  for kind, name, definition in rows)


def signature(schema_name: str) -> str:
    text = "\n".join("|".join(row) for row in catalogue(schema_name))
    return hashlib.sha256(text.encode()).hexdigest()


def applied_migrations(schema_name: str) -> set[str]:
    with connection.cursor() as cursor:
        # The schema name is ours (new_schema_name), never user input.
        cursor.execute(f'SELECT app || \'.\' || name FROM "{schema_name}".django_migrations')  # noqa: S608
        return {row[0] for row in cursor.fetchall()}


# --- Building (the pool job) --------------------------------------------------------------------

def current() -> TemplateSchema | None:
    """The ready template at today's migration state, if the job has built one."""
    from tenants.pool import migration_fingerprint

    return TemplateSchema.objects.filter(fingerprint=migration_fingerprint()).exclude(signature="").first()


def ensure(fingerprint: str) -> tuple[TemplateSchema, bool]:
    """Keep exactly one ready template at ``fingerprint``; returns it and whether it was (re)built.

    A stale template is never migrated in place (a clone running meanwhile could copy it half
    migrated): a new one is built beside it, then the old one is dropped once no clone holds it.
    """
    from tenants.pool import build_schema

    ready = TemplateSchema.objects.filter(fingerprint=fingerprint).exclude(signature="").first()
    built = False
    if ready is None:
        # The row first, so a crash while migrating leaves a row the reconciliation job finds.
        entry = build_schema(lambda name: TemplateSchema.objects.create(schema_name=name))
        try:
            entry.signature = signature(entry.schema_name)
            entry.fingerprint = fingerprint
            entry.save(update_fields=["fingerprint", "signature"])
        except BaseException:
            if not transaction.get_connection().in_atomic_block:
                drop(entry)
            raise
        ready, built = entry, True
        log.info("tenant_template.built", schema=entry.schema_name, fingerprint=fingerprint)
    for old in TemplateSchema.objects.exclude(pk=ready.pk).exclude(fingerprint=""):
        drop(old)
    return ready, built


def drop(entry: TemplateSchema) -> None:
    """Drop a template schema; waits for clones that hold it (they lock its row FOR SHARE)."""
    with transaction.atomic():
        locked = TemplateSchema.objects.select_for_update().filter(pk=entry.pk).first()
        if locked is None:
            return
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{locked.schema_name}" CASCADE')
        locked.delete()
    log.info("tenant_template.dropped", schema=entry.schema_name)


# --- Cloning (the signup path when the pool is empty) -------------------------------------------

class CloneRefused(Exception):
    """The clone does not match its template; the caller migrates a schema instead."""


_function_ready = False


def _ensure_clone_function() -> None:
    # CloneSchema recreates the (large) SQL function on every call; once per process is enough,
    # unless the database lost it (a new test database, a restore).
    global _function_ready
    if _function_ready:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_proc WHERE proname = 'clone_schema' "
                           "AND pronamespace = 'public'::regnamespace")
            if cursor.fetchone() is not None:
                return
    CloneSchema()._create_clone_schema_function()
    _function_ready = True


def _hold(template: TemplateSchema) -> bool:
    """Lock the template's row FOR SHARE: the job cannot drop it until the portal's transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {TemplateSchema._meta.db_table} WHERE id = %s AND signature = %s "  # noqa: S608
                       "FOR SHARE", [template.pk, template.signature])
        return cursor.fetchone() is not None


def clone_into(schema_name: str) -> None:
    """Create ``schema_name`` as a verified copy of the current template, inside the caller's transaction.

    Raises CloneRefused (nothing created) when there is no current template or the copy does not
    match it.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("clone inside the portal's transaction")
    template = current()
    if template is None:
        raise CloneRefused("no template at the current migration state")
    try:
        with transaction.atomic():  # a refused clone is rolled back to here, nothing left behind
            connection.set_schema_to_public()
            if not _hold(template):
                raise CloneRefused("the template was replaced meanwhile")
            _ensure_clone_function()
            with connection.cursor() as cursor:
                cursor.execute("SELECT public.clone_schema(%s, %s, 'DATA')", [template.schema_name, schema_name])
            # clone_schema changes search_path for the rest of the transaction behind
            # django-tenants' back (TENANT_LIMIT_SET_CALLS): make it set the path again.
            connection.set_schema_to_public()
            repair(template.schema_name, schema_name)
            if signature(schema_name) != template.signature:
                raise CloneRefused(f"{schema_name} does not match template {template.schema_name}")
            if applied_migrations(schema_name) != applied_migrations(template.schema_name):
                raise CloneRefused(f"{schema_name} lacks migrations of template {template.schema_name}")
    except CloneRefused as refused:
        connection.set_schema_to_public()
        log.error("tenant_template.clone_refused", schema=schema_name, reason=str(refused))
        raise


def repair(template_schema: str, clone_schema: str) -> int:
    """Give the clone the template's constraint names and sequence types; returns changes made."""
    wanted, got = catalogue(template_schema), catalogue(clone_schema)
    changes = 0
    template_constraints = {(name.split(".", 1)[0], definition): name.split(".", 1)[1]
                            for kind, name, definition in wanted if kind == "con"}
    clone_constraints = {(name.split(".", 1)[0], definition): name.split(".", 1)[1]
                         for kind, name, definition in got if kind == "con"}
    with connection.cursor() as cursor:
        for (table, definition), name in clone_constraints.items():
            target = template_constraints.get((table, definition))
            if target is not None and target != name:
                cursor.execute(f'ALTER TABLE "{clone_schema}"."{table}" RENAME CONSTRAINT "{name}" TO "{target}"')
                changes += 1
        template_sequences = {name: definition.split(" ", 1)[0] for kind, name, definition in wanted if kind == "seq"}
        for kind, name, definition in got:
            data_type = definition.split(" ", 1)[0]
            if kind == "seq" and template_sequences.get(name, data_type) != data_type:
                cursor.execute(f'ALTER SEQUENCE "{clone_schema}"."{name}" AS {template_sequences[name]}')
                changes += 1
    return changes
