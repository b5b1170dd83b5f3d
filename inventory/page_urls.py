from django.urls import path

from inventory import views

app_name = "inventory"

urlpatterns = [
    path("items/", views.item_list, name="item-list"),
    path("items/<int:pk>/", views.item_detail, name="item-detail"),
    path("boms/<int:pk>/", views.bom_detail, name="bom-detail"),
]
