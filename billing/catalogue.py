"""The starting plan catalogue, modelled on the market (seed 000 L1757–1843, 002 L190–200, L620–625).

Seat tiers 2 / 12 / 50 / 100 / 500 and a per-seat option; a free CRM for up to 12 people with
few extras; an own phone number only on the higher packages. Prices are net, monthly and yearly
(two months free), in PLN and EUR. This is only the seed: staff edit plans as data afterwards,
and the seed never overwrites an existing plan.
"""

from __future__ import annotations

GB = 1024

CATALOGUE: list[dict] = [
    {
        "code": "free", "rank": 0, "is_free": True, "per_seat": False,
        "name_pl": "Darmowy", "name_en": "Free",
        "description_pl": "CRM dla małych zespołów do 12 osób.",
        "description_en": "CRM for small teams of up to 12 people.",
        "limits": {"seats": 12, "storage_mb": 5 * GB, "mailboxes": 1, "inbox_channels": 1, "pipelines": 1,
                   "custom_fields": 10, "automation_rules": 0},
        "features": {"custom_domain": False, "api_access": False, "own_phone_number": False},
        "prices": {},
    },
    {
        "code": "start", "rank": 10, "name_pl": "Start", "name_en": "Start",
        "description_pl": "Dla 2 osób, z automatyzacją i większą przestrzenią.",
        "description_en": "For 2 people, with automation and more storage.",
        "limits": {"seats": 2, "storage_mb": 24 * GB, "mailboxes": 2, "inbox_channels": 3, "pipelines": 3,
                   "custom_fields": 50, "automation_rules": 10},
        "features": {"custom_domain": False, "api_access": False, "own_phone_number": False},
        "prices": {("PLN", "month"): "99.00", ("PLN", "year"): "990.00",
                   ("EUR", "month"): "24.00", ("EUR", "year"): "240.00"},
    },
    {
        "code": "team", "rank": 20, "name_pl": "Zespół", "name_en": "Team",
        "description_pl": "Dla 12 osób, z własną domeną i API.",
        "description_en": "For 12 people, with a custom domain and the API.",
        "limits": {"seats": 12, "storage_mb": 50 * GB, "mailboxes": 12, "inbox_channels": 10, "pipelines": 10,
                   "custom_fields": 200, "automation_rules": 50},
        "features": {"custom_domain": True, "api_access": True, "own_phone_number": False},
        "prices": {("PLN", "month"): "299.00", ("PLN", "year"): "2990.00",
                   ("EUR", "month"): "69.00", ("EUR", "year"): "690.00"},
    },
    {
        "code": "business", "rank": 30, "name_pl": "Firma", "name_en": "Business",
        "description_pl": "Dla 50 osób, z własnym numerem telefonu.",
        "description_en": "For 50 people, with your own phone number.",
        "limits": {"seats": 50, "storage_mb": 100 * GB, "mailboxes": 50, "inbox_channels": 25, "pipelines": 30,
                   "custom_fields": 500, "automation_rules": 200},
        "features": {"custom_domain": True, "api_access": True, "own_phone_number": True},
        "prices": {("PLN", "month"): "799.00", ("PLN", "year"): "7990.00",
                   ("EUR", "month"): "189.00", ("EUR", "year"): "1890.00"},
    },
    {
        "code": "professional", "rank": 40, "name_pl": "Profesjonalny", "name_en": "Professional",
        "description_pl": "Dla 100 osób, bez limitów lejków i automatyzacji.",
        "description_en": "For 100 people, with unlimited pipelines and automation.",
        "limits": {"seats": 100, "storage_mb": 1024 * GB, "mailboxes": 100, "inbox_channels": None,
                   "pipelines": None, "custom_fields": None, "automation_rules": None},
        "features": {"custom_domain": True, "api_access": True, "own_phone_number": True},
        "prices": {("PLN", "month"): "1499.00", ("PLN", "year"): "14990.00",
                   ("EUR", "month"): "349.00", ("EUR", "year"): "3490.00"},
    },
    {
        "code": "enterprise", "rank": 50, "name_pl": "Enterprise", "name_en": "Enterprise",
        "description_pl": "Dla 500 osób. Ten plan dostaje każdy nowy portal na 30 dni próbnych.",
        "description_en": "For 500 people. Every new portal gets this plan for a 30-day trial.",
        "limits": {"seats": 500, "storage_mb": 3072 * GB, "mailboxes": 500, "inbox_channels": None,
                   "pipelines": None, "custom_fields": None, "automation_rules": None},
        "features": {"custom_domain": True, "api_access": True, "own_phone_number": True},
        "prices": {("PLN", "month"): "4999.00", ("PLN", "year"): "49990.00",
                   ("EUR", "month"): "1149.00", ("EUR", "year"): "11490.00"},
    },
    {
        "code": "per-seat", "rank": 35, "per_seat": True, "name_pl": "Na użytkownika", "name_en": "Per user",
        "description_pl": "Płacisz za każdą osobę; funkcje planu Firma.",
        "description_en": "Pay for each person; the features of the Business plan.",
        "limits": {"storage_mb": 100 * GB, "mailboxes": None, "inbox_channels": 25, "pipelines": 30,
                   "custom_fields": 500, "automation_rules": 200},
        "features": {"custom_domain": True, "api_access": True, "own_phone_number": True},
        "prices": {("PLN", "month"): "39.00", ("PLN", "year"): "390.00",
                   ("EUR", "month"): "9.00", ("EUR", "year"): "90.00"},
    },
]


def seed_catalogue(plan_model, price_model) -> int:
    """Create the plans that do not exist yet; returns how many were created."""
    created = 0
    for entry in CATALOGUE:
        fields = {key: value for key, value in entry.items() if key not in {"code", "prices"}}
        plan, was_created = plan_model.objects.get_or_create(code=entry["code"], defaults=fields)
        if not was_created:
            continue
        created += 1
        for (currency, interval), amount in entry["prices"].items():
            price_model.objects.create(plan=plan, currency=currency, interval=interval, amount=amount)
    return created
