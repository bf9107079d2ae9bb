"""Signals through which higher layers react to portal changes (tenants never imports them).

``client_portal_unlinking`` is sent inside the transaction, before a portal stops being a
partner's client, with ``tenant`` and ``partner``. Billing moves a partner-paid portal off the
partner's subscription here; a receiver that raises stops the unlinking.
"""

from django.dispatch import Signal

client_portal_unlinking = Signal()
