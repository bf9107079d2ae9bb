import pytest
from django_tenants.utils import tenant_context

from crm.core import selectors
from crm.core.samples import add_sample_records
from crm.deals.models import Deal
from identity.members.models import Membership

pytestmark = pytest.mark.django_db


def test_the_demo_records_go_through_the_services_and_have_history(portal_a):
    with tenant_context(portal_a.tenant):
        add_sample_records()
        admin = Membership.objects.get(user=portal_a.owner)
        assert selectors.records(admin, "contact").count() >= 8
        assert Deal.objects.values("stage").distinct().count() >= 4
        from crm.core.models import ChangeEntry
        assert ChangeEntry.objects.filter(entity="deal", kind="created").count() >= 8
