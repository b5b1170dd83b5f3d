from django.db import models


class OrderStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    RELEASED = "released", "Released"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"
    # Combined into another order (``merged_into``), which carries its quantity and demand.
    MERGED = "merged", "Merged"


# The status machine, as data: from -> the statuses it may move to.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PLANNED: frozenset({OrderStatus.RELEASED, OrderStatus.CANCELLED, OrderStatus.MERGED}),
    OrderStatus.RELEASED: frozenset(
        {OrderStatus.IN_PROGRESS, OrderStatus.CANCELLED, OrderStatus.CLOSED, OrderStatus.MERGED}
    ),
    OrderStatus.IN_PROGRESS: frozenset({OrderStatus.COMPLETED, OrderStatus.CLOSED}),
    OrderStatus.COMPLETED: frozenset({OrderStatus.IN_PROGRESS, OrderStatus.CLOSED}),
    OrderStatus.CLOSED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.MERGED: frozenset(),
}

# What each status allows (the spec's status table).
STRUCTURE_EDITABLE = frozenset({OrderStatus.PLANNED})
POSTING_ALLOWED = frozenset({OrderStatus.RELEASED, OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED})
OPEN_STATUSES = frozenset({OrderStatus.PLANNED, OrderStatus.RELEASED, OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED})
# Orders that may be merged or split: nothing is posted on them yet (the services check that
# too, under the lock).
COMBINABLE_STATUSES = frozenset({OrderStatus.PLANNED, OrderStatus.RELEASED})
# Read only: nothing changes any more.
FINISHED_STATUSES = frozenset({OrderStatus.CLOSED, OrderStatus.CANCELLED, OrderStatus.MERGED})


class OrderType(models.TextChoices):
    MTS = "MTS", "Make to stock"
    MTO = "MTO", "Make to order"
    ATO = "ATO", "Assemble to order"
    ETO = "ETO", "Engineer to order"


class Flushing(models.TextChoices):
    MANUAL = "manual", "Manual"
    FORWARD = "forward", "Forward (at release)"
    BACKWARD = "backward", "Backward (backflush)"


class OperationStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    RELEASED = "released", "Released"
    STARTED = "started", "Started"
    CONFIRMED = "confirmed", "Finally confirmed"


class CostCategory(models.TextChoices):
    MATERIAL = "material", "Material"
    LABOR = "labor", "Labor"
    MACHINE = "machine", "Machine"
    OVERHEAD = "overhead", "Overhead"
    OUTPUT = "output", "Output (credit)"


class PostingStatus(models.TextChoices):
    NONE = "none", "Nothing to post"
    PENDING = "pending", "Posting"
    POSTED = "posted", "Posted"
    FAILED = "failed", "Failed"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ScrapReason(models.TextChoices):
    MATERIAL = "material", "Material defect"
    MACHINE = "machine", "Machine fault"
    SETUP = "setup", "Setup scrap"
    HANDLING = "handling", "Handling damage"
    OPERATOR = "operator", "Operator error"
    OTHER = "other", "Other"


# The document type of production orders in the ledger and in reservations.
DOCUMENT_TYPE = "production_order"
