"""Every user-facing string has a Polish translation, and the compiled catalogue is current."""

from pathlib import Path

import polib
import pytest
from django.utils import translation

CATALOGUE = Path(__file__).resolve().parents[1] / "locale" / "pl" / "LC_MESSAGES" / "django.po"


def _entries():
    return [entry for entry in polib.pofile(str(CATALOGUE)) if not entry.obsolete and entry.msgid]


def test_every_string_is_translated_to_polish():
    untranslated = [entry.msgid for entry in _entries() if not entry.translated() or "fuzzy" in entry.flags]
    assert untranslated == []


@pytest.mark.parametrize("entry", _entries(), ids=lambda entry: entry.msgid[:40])
def test_compiled_polish_catalogue_matches_the_source(entry):
    with translation.override("pl"):
        if entry.msgctxt:
            assert translation.pgettext(entry.msgctxt, entry.msgid) == entry.msgstr
        elif not entry.msgid_plural:
            assert translation.gettext(entry.msgid) == entry.msgstr
