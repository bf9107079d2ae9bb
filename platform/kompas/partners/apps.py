from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "kompas.partners"
    label = "partners"
