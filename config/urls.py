from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import views
from config.exceptions import UnknownApiEndpoint
from production import views as production_views

# Production first: URL resolution tries patterns in order, and the shop floor's
# confirmations are the busiest route (the routers' prefixes do not overlap).
api_v1 = [
    path("", include("production.urls")),
    path("me/", views.me, name="api-me"),
    path("", include("inventory.urls")),
    path("", include("planning.urls")),
    path("", include("sales.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("", production_views.dashboard, name="home"),
    path("kpis/", production_views.kpis, name="kpis"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers (and pages that are not ours: admin, API docs, JSON) ask the root for it.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.ico"), permanent=True)),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("inventory/", include("inventory.page_urls")),
    path("planning/", include("planning.page_urls")),
    path("production/", include("production.page_urls")),
    path("sales/", include("sales.page_urls")),
    path("floor/", include("production.floor_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Last of the api/ patterns: any other api/.../ path is a 404 in the API's error shape.
    re_path(r"^api/(?:.*/)?$", UnknownApiEndpoint.as_view()),
]

# With DEBUG off, errors raised outside a DRF view answer in the API's error shape under
# /api/ and as Django's HTML pages elsewhere (config/exceptions.py).
handler400 = "config.exceptions.bad_request"
handler403 = "config.exceptions.permission_denied"
handler404 = "config.exceptions.page_not_found"
handler500 = "config.exceptions.server_error"
