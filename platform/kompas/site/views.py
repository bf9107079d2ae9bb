from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from identity.members.handover import handover_url
from identity.members.security import client_ip
from kompas.site import signup as signups
from kompas.site.forms import ConfirmSignupForm, FindPortalForm, SignupForm
from tenants.selectors import portal_address

SESSION_SIGNUPS = "kompas_signups"  # signups started in this browser: their link needs no password again
SESSION_EMAIL = "kompas_signup_email"


def _scheme() -> str:
    return "https" if settings.USE_TLS else "http"


@require_http_methods(["GET", "POST"])
def landing(request: HttpRequest) -> HttpResponse:
    """The product page, with a box that takes a person to their portal's login page.

    The redirect goes to whatever address is typed, existing or not: the portal's host
    answers with its login page or the not-found page, so this form reveals no portal list.
    """
    form = FindPortalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return HttpResponseRedirect(portal_address(form.cleaned_data["slug"], scheme=_scheme(),
                                                   port=request.get_port(), path="/auth/login/"))
    return render(request, "site/landing.html", {"form": form, "base_domain": settings.BASE_DOMAIN})


# --- Signup ------------------------------------------------------------------------------------

def _signup_page(request: HttpRequest, form: SignupForm, *, status: int = 200, refusal: str = "") -> HttpResponse:
    return render(request, "site/signup.html", {"form": form, "base_domain": settings.BASE_DOMAIN,
                                                "refusal": refusal, "hours": signups.SIGNUP_HOURS}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Company or individual, name, e-mail, password and the portal's address; then an e-mailed link.

    The answer is the same whether the address has an account or not (the e-mail differs).
    """
    if request.method == "GET":
        return _signup_page(request, SignupForm(initial={"slug": request.GET.get("address", "")[:63]}))
    form = SignupForm(request.POST)
    if form.is_bot:
        # Looks like success, so the bot learns nothing; nothing is stored or sent.
        signups.hit(signups.PER_IP, client_ip(request) or "unknown")
        request.session[SESSION_EMAIL] = (request.POST.get("email") or "")[:254]
        return redirect("site:signup-sent")
    if not form.is_valid():
        return _signup_page(request, form, status=400)
    data = form.cleaned_data
    try:
        signups.admit_signup(ip=client_ip(request), email=data["email"])
    except signups.TooManyAttempts as refused:
        response = _signup_page(request, form, status=429, refusal=refused.message)
        response["Retry-After"] = str(refused.retry_after)
        return response
    started = signups.start(kind=data["kind"], full_name=data["full_name"], email=data["email"],
                            password=data["password"], company_name=data["company_name"], slug=data["slug"],
                            language=translation.get_language() or settings.LANGUAGE_CODE, ip=client_ip(request),
                            scheme=_scheme(), port=request.get_port())
    request.session[SESSION_SIGNUPS] = [*request.session.get(SESSION_SIGNUPS, [])[-4:], started.pk]
    request.session[SESSION_EMAIL] = data["email"]
    return redirect("site:signup-sent")


@never_cache
@require_GET
def check_address(request: HttpRequest) -> HttpResponse:
    """The live answer under the address field (htmx): free, or why not. Always 200 so htmx swaps it."""
    raw = (request.GET.get("slug") or "").strip()
    context = {"base_domain": settings.BASE_DOMAIN, "slug": raw.lower()}
    if raw:
        wait = signups.hit(signups.ADDRESS_CHECKS_PER_IP, client_ip(request) or "unknown")
        if wait:
            context["error"] = signups.wait_message(wait)
        else:
            email = (request.GET.get("email") or "").strip().lower()
            try:
                context["free"] = signups.host_of(signups.check_address(raw, email=email))
            except ValidationError as error:
                context["error"] = error.messages[0]
                context["alternative"] = (signups.free_alternative(raw.lower(), email=email)
                                          if signups.is_taken(raw, email=email) else None)
    return render(request, "site/_address_status.html", context)


@never_cache
@require_GET
def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "site/signup_sent.html", {"email": request.session.get(SESSION_EMAIL, ""),
                                                     "hours": signups.SIGNUP_HOURS})


def _link_page(request: HttpRequest, signup, state: str) -> HttpResponse:
    login_url = None
    if state == signups.LinkState.USED and signup.tenant is not None:
        login_url = portal_address(signup.tenant.slug, scheme=_scheme(), port=request.get_port(),
                                   path="/auth/login/")
    return render(request, "site/signup_link.html", {"state": state, "signup": signup, "login_url": login_url,
                                                      "hours": signups.SIGNUP_HOURS},
                  status=410)


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mailed link: one click creates the portal and signs a new account in there.

    A GET changes nothing (mail scanners open links); the button posts.
    """
    signup = signups.signup_for_token(token)
    if signup is None:
        raise Http404
    state = signups.state_of(signup)
    if state != signups.LinkState.PENDING:
        return _link_page(request, signup, state)
    same_browser = signup.pk in request.session.get(SESSION_SIGNUPS, [])
    existing = signups.has_account(signup)
    form = ConfirmSignupForm(request.POST or None, initial={"slug": signup.slug})
    if request.method == "POST" and form.is_valid():
        try:
            done = signups.complete(token=token, slug=form.cleaned_data["slug"],
                                    password=form.cleaned_data["password"], same_browser=same_browser)
        except signups.LinkNotValid as invalid:
            if invalid.signup is None:
                raise Http404 from None
            return _link_page(request, invalid.signup, signups.state_of(invalid.signup))
        except ValidationError as error:
            errors = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
            for field, messages in errors.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            if done.new_account:
                return redirect(handover_url(user=done.owner, tenant=done.tenant, scheme=_scheme(),
                                             port=request.get_port()))
            return render(request, "site/signup_ready.html", {
                "host": signups.host_of(done.tenant.slug), "email": done.owner.email,
                "login_url": portal_address(done.tenant.slug, scheme=_scheme(), port=request.get_port(),
                                            path="/auth/login/")})
    return render(request, "site/signup_confirm.html", {
        "form": form, "signup": signup, "base_domain": settings.BASE_DOMAIN,
        "ask_password": not existing and not same_browser, "existing": existing,
    }, status=400 if request.method == "POST" else 200)
