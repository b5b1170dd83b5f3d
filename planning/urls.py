from rest_framework.routers import DefaultRouter

from planning import apis

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("cost-centers", apis.CostCenterViewSet, basename="cost-center")
router.register("calendars", apis.CalendarViewSet, basename="calendar")
router.register("work-centers", apis.WorkCenterViewSet, basename="work-center")
router.register("routings", apis.RoutingViewSet, basename="routing")

urlpatterns = router.urls
