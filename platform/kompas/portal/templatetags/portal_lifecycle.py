"""``{% portal_lifecycle_section %}``: the close / reactivate / export section of Settings → Portal."""

from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("portal/_lifecycle_section.html", takes_context=True)
def portal_lifecycle_section(context) -> dict:
    from kompas.portal.lifecycle_views import lifecycle_context

    return lifecycle_context(context["request"])
