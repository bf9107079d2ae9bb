from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "kompas.site"
    label = "site"
