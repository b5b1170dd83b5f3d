from rest_framework.routers import DefaultRouter

from inventory import apis

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("units", apis.UnitViewSet, basename="unit")
router.register("items", apis.ItemViewSet, basename="item")
router.register("locations", apis.LocationViewSet, basename="location")
router.register("lots", apis.LotViewSet, basename="lot")
router.register("stock-balances", apis.StockBalanceViewSet, basename="stock-balance")
router.register("stock-movements", apis.StockMovementViewSet, basename="stock-movement")
router.register("stock-postings", apis.StockPostingViewSet, basename="stock-posting")
router.register("reservations", apis.ReservationViewSet, basename="reservation")
router.register("boms", apis.BomViewSet, basename="bom")

urlpatterns = router.urls
