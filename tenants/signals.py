"""Signals through which higher layers react to portal changes (tenants never imports them).

``client_portal_unlinking`` is sent inside the transaction, before a portal stops being a
partner's client, with ``tenant`` and ``partner``. Billing moves a partner-paid portal off the
partner's subscription here; a receiver that raises stops the unlinking.
"""

from django.dispatch import Signal

client_portal_unlinking = Signal()

# --- The portal lifecycle (tenants.transitions) --------------------------------------------------
# ``portal_status_changed`` is sent inside the transaction after a lifecycle move, with
# ``tenant``, ``previous``, ``status``, ``actor`` and ``reason``.
portal_status_changed = Signal()
# Questions tenants asks the layers above; each receiver answers through its return value.
# ``trial_end_requested(tenant)``: when the portal's trial ends (a datetime), or None when it
# is not on a trial (billing answers).
trial_end_requested = Signal()
# ``trial_extension_requested(tenant, days)``: move the end of the trial ``days`` later and
# return the new end; raise ValidationError when the portal cannot have a longer trial (billing).
trial_extension_requested = Signal()
# ``portal_admins_requested(tenant)``: the e-mail addresses of the portal's owner and
# administrators, who are told about every lifecycle move (identity answers).
portal_admins_requested = Signal()

# --- Provisioning reconciliation (tenants.reconcile, docs/decisions/0023) ---------------------------
# ``provisioning_reconcile_requested()``: finish or clean up what the layer above left half done
# (signups whose creation failed, portals nobody can sign in to); return a list of lines, one
# per fix, each also written to the audit log.
provisioning_reconcile_requested = Signal()
# ``provisioning_problems_requested()``: return a list of tenants.reconcile.Problem for staff.
provisioning_problems_requested = Signal()
