from django.urls import path

from planning import views

app_name = "planning"

urlpatterns = [
    path("capacity/", views.capacity, name="capacity"),
    path("work-centers/", views.work_center_list, name="work-center-list"),
    path("routings/", views.routing_list, name="routing-list"),
    path("routings/<int:pk>/", views.routing_detail, name="routing-detail"),
    path("runs/", views.run_list, name="run-list"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run-progress"),
    path("planned-orders/", views.planned_order_list, name="planned-order-list"),
    path("requisitions/", views.requisition_list, name="requisition-list"),
    path("exceptions/", views.exception_list, name="exception-list"),
]
