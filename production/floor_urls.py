from django.urls import path

from production import floor

app_name = "floor"

urlpatterns = [
    path("", floor.signin, name="signin"),
    path("setup/", floor.terminal_setup, name="setup"),
    path("signout/", floor.signout, name="signout"),
    path("queue/", floor.queue, name="queue"),
    path("operations/<int:operation_id>/", floor.operation, name="operation"),
    path("operations/<int:operation_id>/preview/", floor.operation_preview, name="preview"),
    path("operations/<int:operation_id>/clock/", floor.clock, name="clock"),
    path("operations/<int:operation_id>/confirm/", floor.FloorConfirmView.as_view(), name="confirm"),
]
