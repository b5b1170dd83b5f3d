from django.urls import path

from production import views

app_name = "production"

urlpatterns = [
    path("orders/", views.order_list, name="order-list"),
    path("orders/new/", views.order_create, name="order-create"),
    path("orders/<int:pk>/", views.order_detail, name="order-detail"),
    path("orders/<int:pk>/traveler/", views.order_traveler, name="order-traveler"),
    path("orders/<int:pk>/release/", views.order_release, name="order-release"),
    path("orders/<int:pk>/close/", views.order_close, name="order-close"),
    path("orders/<int:pk>/cancel/", views.order_cancel, name="order-cancel"),
    path("orders/<int:pk>/edit/", views.order_edit, name="order-edit"),
    path("orders/<int:pk>/reschedule/", views.order_reschedule, name="order-reschedule"),
    path("orders/<int:pk>/issue/", views.order_issue, name="order-issue"),
    path("orders/<int:pk>/merge/", views.order_merge, name="order-merge"),
    path("orders/<int:pk>/split/", views.order_split, name="order-split"),
    path(
        "orders/<int:pk>/confirmations/<int:confirmation_id>/reverse/",
        views.confirmation_reverse,
        name="confirmation-reverse",
    ),
    path("posting-errors/", views.posting_errors, name="posting-errors"),
    path("posting-errors/<int:pk>/retry/", views.posting_retry, name="posting-retry"),
    path("gantt/", views.gantt, name="gantt"),
]
