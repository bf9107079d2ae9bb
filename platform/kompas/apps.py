from django.apps import AppConfig


class KompasConfig(AppConfig):
    name = "kompas"
    verbose_name = "Kompas"

    def ready(self) -> None:
        from kompas.provisioning import connect_reconciliation

        connect_reconciliation()  # its part of the provisioning reconciliation job
