from rest_framework.routers import DefaultRouter

from sales.apis import CustomerViewSet, SalesOrderViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("customers", CustomerViewSet, basename="customer")
router.register("sales-orders", SalesOrderViewSet, basename="sales-order")

urlpatterns = router.urls
