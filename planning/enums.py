from django.db import models


class RoutingStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    OBSOLETE = "obsolete", "Obsolete"


# Allowed routing status changes, as data (checked by the routing services under a row lock).
ROUTING_TRANSITIONS: dict[str, frozenset[str]] = {
    RoutingStatus.DRAFT: frozenset({RoutingStatus.ACTIVE, RoutingStatus.OBSOLETE}),
    RoutingStatus.ACTIVE: frozenset({RoutingStatus.OBSOLETE}),
    RoutingStatus.OBSOLETE: frozenset(),
}


class CapacityStatus(models.TextChoices):
    """The state of the demand that a capacity requirement stands for."""

    PLANNED = "planned", "Planned"
    FIRMED = "firmed", "Firmed"
    RELEASED = "released", "Released"
    IN_PROGRESS = "in_progress", "In progress"


class BucketSize(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
