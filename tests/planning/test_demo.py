from datetime import timedelta

import pytest
from django.utils import timezone

from planning import demo
from planning.models import CapacityRequirement, Routing, WorkCenter
from planning.selectors import work_center_load
from tests.planning.factories import ItemFactory

pytestmark = pytest.mark.django_db


def test_demo_load_is_idempotent_and_overloads_welding_next_week():
    # given only some demo items exist (inventory's demo may run later)
    ItemFactory(sku="SA-100")
    ItemFactory(sku="FG-1000")

    # when
    demo.load()
    demo.load()

    # then
    assert set(WorkCenter.objects.values_list("code", flat=True)) == set(demo.WORK_CENTERS)
    assert Routing.objects.filter(status="active").count() == 2
    assert CapacityRequirement.objects.filter(source_type="demo").count() == 10
    weld = WorkCenter.objects.get(code="WC-WELD")
    today = timezone.localdate()
    monday = today + timedelta(days=7 - today.weekday())
    rows = work_center_load(work_center_id=weld.pk, date_from=monday, date_to=monday + timedelta(days=6), bucket="week")
    assert rows[0].overload is True

    # and items created afterwards get their routings on the next run
    ItemFactory(sku="SA-200")
    demo.load()
    assert Routing.objects.filter(item__sku="SA-200", status="active").count() == 1
