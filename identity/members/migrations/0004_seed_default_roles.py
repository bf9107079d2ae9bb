from django.db import migrations


def seed(apps, schema_editor):
    from identity.members.roles import seed_default_roles

    tenant = getattr(schema_editor.connection, "tenant", None)
    language = getattr(tenant, "language", None) or "pl"
    Role = apps.get_model("members", "Role")
    seed_default_roles(language=language, role_model=Role,
                       permission_model=apps.get_model("members", "RolePermission"))
    # Owners and administrators who joined before roles existed get the Administrator role.
    administrator = Role.objects.get(code="administrator")
    Membership = apps.get_model("members", "Membership")
    Membership.objects.filter(is_admin=True, role__isnull=True).update(role=administrator)
    Membership.objects.filter(role__isnull=True).update(role=Role.objects.get(code="salesperson"))


class Migration(migrations.Migration):
    dependencies = [("members", "0003_roles_departments")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
