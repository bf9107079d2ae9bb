from django.apps import AppConfig


class KompasConfig(AppConfig):
    name = "kompas"
    verbose_name = "Kompas"
