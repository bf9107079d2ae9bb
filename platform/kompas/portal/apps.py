from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "kompas.portal"
    label = "portal"
