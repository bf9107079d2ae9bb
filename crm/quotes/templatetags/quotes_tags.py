"""``{% client_link quote %}``: the address of a sent quote's online view, for the salesperson to copy."""

from django import template

from crm.quotes import services

register = template.Library()


@register.simple_tag(takes_context=True)
def client_link(context, quote) -> str:
    if quote.status == "draft" or quote.is_deleted:
        return ""
    path = services.public_path(quote)
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path
