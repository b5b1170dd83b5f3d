from rest_framework.routers import DefaultRouter

from planning import apis, apis_mrp

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("cost-centers", apis.CostCenterViewSet, basename="cost-center")
router.register("calendars", apis.CalendarViewSet, basename="calendar")
router.register("work-centers", apis.WorkCenterViewSet, basename="work-center")
router.register("routings", apis.RoutingViewSet, basename="routing")

urlpatterns = router.urls

mrp_router = DefaultRouter(trailing_slash=True)
mrp_router.include_root_view = False
mrp_router.register("planning-runs", apis_mrp.PlanningRunViewSet, basename="planning-run")
mrp_router.register("purchase-requisitions", apis_mrp.PurchaseRequisitionViewSet, basename="purchase-requisition")
mrp_router.register("planning-exceptions", apis_mrp.PlanningExceptionViewSet, basename="planning-exception")
urlpatterns += mrp_router.urls
