from django.urls import path

from planning import views

app_name = "planning"

urlpatterns = [
    path("capacity/", views.capacity, name="capacity"),
    path("work-centers/", views.work_center_list, name="work-center-list"),
    path("routings/", views.routing_list, name="routing-list"),
    path("routings/<int:pk>/", views.routing_detail, name="routing-detail"),
]
