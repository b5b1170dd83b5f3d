from django.urls import path
from rest_framework.routers import DefaultRouter

from production.apis import ProductionOrderViewSet
from production.apis_confirmations import ConfirmationViewSet, PostingErrorViewSet
from production.apis_kpis import kpis
from production.apis_planning import PlannedOrderViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# Confirmations first: the busiest route, resolved before the order actions' patterns.
router.register("confirmations", ConfirmationViewSet, basename="confirmation")
router.register("production-orders", ProductionOrderViewSet, basename="production-order")
router.register("posting-errors", PostingErrorViewSet, basename="posting-error")
router.register("planned-orders", PlannedOrderViewSet, basename="planned-order")

urlpatterns = [*router.urls, path("kpis/", kpis, name="kpis")]
