from rest_framework.routers import DefaultRouter

from production.apis import ProductionOrderViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("production-orders", ProductionOrderViewSet, basename="production-order")

urlpatterns = router.urls
