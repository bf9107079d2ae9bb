from django.db import migrations


def seed(apps, schema_editor):
    from billing.catalogue import seed_catalogue

    seed_catalogue(apps.get_model("billing", "Plan"), apps.get_model("billing", "PlanPrice"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
