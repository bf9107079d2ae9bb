from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DictionariesConfig(AppConfig):
    name = "crm.dictionaries"
    label = "crm_dictionaries"
    verbose_name = _("Lists of values")
