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


class RunMode(models.TextChoices):
    REGENERATIVE = "regenerative", "Regenerative"
    NET_CHANGE = "net_change", "Net change"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    COMMITTED = "committed", "Committed (simulation made live)"
    DISCARDED = "discarded", "Discarded (simulation)"


# Runs in these statuses hold the planning slot: a new run is refused while one exists.
RUN_ACTIVE_STATUSES = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})


class PlannedOrderStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    FIRMED = "firmed", "Firmed (production order created)"


class RequisitionStatus(models.TextChoices):
    PLANNED = "planned", "Planned (replaced by the next run)"
    RELEASED = "released", "Released to purchasing (open supply)"
    CLOSED = "closed", "Closed"


class LotSizing(models.TextChoices):
    LOT_FOR_LOT = "lot_for_lot", "Lot for lot"
    FIXED = "fixed", "Fixed lot (multiples of min_lot)"
    MIN_MULTIPLE = "min_multiple", "At least min_lot, in lot_multiple steps"
    MAX_STOCK = "max_stock", "Replenish up to max_stock"
    REORDER_POINT = "reorder_point", "Reorder point"
    PERIOD = "period", "Period order quantity (cover period_days of requirements)"


class ExceptionKind(models.TextChoices):
    LATE = "late", "Late: start date in the past"
    EXPEDITE = "expedite", "Expedite: open order overdue"
    CANCEL = "cancel", "Cancel: open supply not needed"
    RESCHEDULE_IN = "reschedule_in", "Reschedule in"
    RESCHEDULE_OUT = "reschedule_out", "Reschedule out"
    NO_BOM = "no_bom", "Made item without an active BOM"
    NO_ROUTING = "no_routing", "Made item without an active routing"
