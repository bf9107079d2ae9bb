"""The billing page of a portal: plan, usage against every limit, paying, invoices, details.

Only the portal's administrators may open it. Membership comes from ``request.member``
(identity's middleware), so billing does not import identity.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing import limits, services, stripe_gateway
from billing.forms import BillingDetailsForm, ChoosePlanForm
from billing.models import BillingDetails, Plan, PlanPrice, Subscription
from billing.selectors import invoices_of, public_plans, subscription_of


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        member = getattr(request, "member", None)
        if not (member and member.has_admin_rights):
            body = render_to_string("billing/forbidden.html", request=request)
            return HttpResponseForbidden(body)
        return view(request, *args, **kwargs)

    return wrapper


@admin_required
def billing_page(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    details = BillingDetails.objects.filter(tenant=tenant).first()
    form = BillingDetailsForm(instance=details, initial=None if details else {
        "company_name": tenant.name, "country": "PL", "email": request.user.email})
    return _render_page(request, form)


def _render_page(request: HttpRequest, details_form: BillingDetailsForm, *, status: int = 200) -> HttpResponse:
    tenant = request.tenant
    subscription = subscription_of(tenant)
    return render(request, "billing/billing.html", {
        "subscription": subscription,
        "usage": limits.usage_report(tenant),
        "plans": public_plans(),
        "invoices": invoices_of(tenant)[:24],
        "details_form": details_form,
        "over_limits": _over_limits_of_scheduled_plan(tenant, subscription),
    }, status=status)


def _over_limits_of_scheduled_plan(tenant, subscription: Subscription | None) -> list[limits.UsageLine]:
    if subscription is None or subscription.scheduled_plan is None:
        return []
    return limits.over_limits_on(tenant, subscription.scheduled_plan, seats=subscription.scheduled_seats)


@require_POST
@admin_required
def save_details(request: HttpRequest) -> HttpResponse:
    details = BillingDetails.objects.filter(tenant=request.tenant).first()
    form = BillingDetailsForm(request.POST, instance=details)
    if not form.is_valid():
        messages.error(request, _("The billing details were not saved: please correct the marked fields."))
        return _render_page(request, form, status=400)
    services.save_billing_details(tenant=request.tenant, **form.cleaned_data)
    messages.success(request, _("Billing details saved."))
    return redirect("billing:page")


def _refused_because_partner_paid(request: HttpRequest, message: str) -> HttpResponse | None:
    """A partner-paid portal's plan and payments are the partner's: refuse here, naming the partner.

    Its own checkout would bill the portal twice, and its own Customer Portal cannot pay the
    partner's invoice.
    """
    subscription = subscription_of(request.tenant)
    if subscription is None or not subscription.is_partner_paid:
        return None
    messages.error(request, message % {"partner": subscription.partner_account.partner.name})
    return redirect("billing:page")


@require_POST
@admin_required
def choose_plan(request: HttpRequest) -> HttpResponse:
    refused = _refused_because_partner_paid(
        request, _("%(partner)s pays for this portal: please ask them to change its plan."))
    if refused is not None:
        return refused
    form = ChoosePlanForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a plan, a billing interval and a currency."))
        return redirect("billing:page")
    plan = Plan.objects.filter(code=form.cleaned_data["plan"], is_public=True, is_free=False).first()
    price = PlanPrice.objects.filter(plan=plan, interval=form.cleaned_data["interval"],
                                     currency=form.cleaned_data["currency"]).first() if plan else None
    if price is None:
        messages.error(request, _("This plan is not available with the chosen billing interval and currency."))
        return redirect("billing:page")
    seats = form.cleaned_data.get("seats") if plan.per_seat else None
    if plan.per_seat and not seats:
        messages.error(request, _("Enter how many users the per-user plan should cover."))
        return redirect("billing:page")
    try:
        return _subscribe_or_change(request, plan=plan, price=price, seats=seats)
    except (stripe_gateway.PaymentProviderError, ValidationError) as error:
        messages.error(request, " ".join(error.messages) if isinstance(error, ValidationError) else str(error))
        return redirect("billing:page")


def _subscribe_or_change(request: HttpRequest, *, plan: Plan, price: PlanPrice, seats: int | None) -> HttpResponse:
    tenant = request.tenant
    subscription = subscription_of(tenant)
    paying = subscription is not None and subscription.stripe_subscription_id and subscription.status in (
        Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE)
    if not paying:
        back = request.build_absolute_uri(reverse("billing:page"))
        url = stripe_gateway.create_checkout_session(tenant=tenant, price=price, seats=seats,
                                                     success_url=f"{back}?checkout=success",
                                                     cancel_url=f"{back}?checkout=cancelled")
        return redirect(url)
    if seats is not None and seats < limits.usage_of(tenant, "seats"):
        raise ValidationError(_("The portal has %(used)s active users; deactivate some before buying fewer "
                                "seats.") % {"used": limits.usage_of(tenant, "seats")})
    change = services.kind_of_change(subscription.plan, plan, current_seats=subscription.seats, new_seats=seats)
    if change == services.PlanChange.UPGRADE:
        stripe_gateway.change_subscription(subscription=subscription, price=price, seats=seats, prorate=True)
        messages.success(request, _("Your plan is being upgraded; the difference for this period is charged "
                                    "pro rata. The new limits apply as soon as Stripe confirms the change."))
    elif change == services.PlanChange.DOWNGRADE:
        over = services.schedule_downgrade(tenant=tenant, plan=plan, seats=seats)
        if over:
            messages.warning(request, _("The new plan starts with the next billing period. Before then, reduce "
                                        "what is listed under “Over the new plan's limits”; nothing is deleted."))
        else:
            messages.success(request, _("The new plan starts with the next billing period."))
    else:
        messages.info(request, _("This is already your plan."))
    return redirect("billing:page")


@require_POST
@admin_required
def cancel_scheduled_change(request: HttpRequest) -> HttpResponse:
    services.cancel_scheduled_change(tenant=request.tenant)
    messages.success(request, _("The scheduled plan change was cancelled."))
    return redirect("billing:page")


@require_POST
@admin_required
def manage_payments(request: HttpRequest) -> HttpResponse:
    """Payment methods and invoices live in Stripe's Customer Portal."""
    refused = _refused_because_partner_paid(request, _("%(partner)s pays for this portal and handles its payments."))
    if refused is not None:
        return refused
    try:
        url = stripe_gateway.create_portal_session(
            tenant=request.tenant, return_url=request.build_absolute_uri(reverse("billing:page")))
    except stripe_gateway.PaymentProviderError as error:
        messages.error(request, str(error))
        return redirect("billing:page")
    return redirect(url)
