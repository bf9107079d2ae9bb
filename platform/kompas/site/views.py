from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from kompas.site.forms import FindPortalForm
from tenants.selectors import portal_address


@require_http_methods(["GET", "POST"])
def landing(request: HttpRequest) -> HttpResponse:
    """The product page, with a box that takes a person to their portal's login page.

    The redirect goes to whatever address is typed, existing or not: the portal's host
    answers with its login page or the not-found page, so this form reveals no portal list.
    """
    form = FindPortalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        scheme = "https" if settings.USE_TLS else "http"
        return HttpResponseRedirect(portal_address(form.cleaned_data["slug"], scheme=scheme,
                                                   port=request.get_port(), path="/auth/login/"))
    return render(request, "site/landing.html", {"form": form, "base_domain": settings.BASE_DOMAIN})
