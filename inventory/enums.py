from django.db import models


class ItemType(models.TextChoices):
    RAW = "raw", "Raw material"
    PURCHASED = "purchased", "Purchased part"
    SEMI_FINISHED = "semi_finished", "Semi-finished"
    FINISHED = "finished", "Finished good"


class Procurement(models.TextChoices):
    MAKE = "make", "Make"
    BUY = "buy", "Buy"


class Strategy(models.TextChoices):
    MTS = "MTS", "Make to stock"
    MTO = "MTO", "Make to order"
    ATO = "ATO", "Assemble to order"
    ETO = "ETO", "Engineer to order"


class MovementType(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    ISSUE = "issue", "Issue"
    TRANSFER = "transfer", "Transfer"
    ADJUSTMENT = "adjustment", "Adjustment"
    PRODUCTION_RECEIPT = "production_receipt", "Production receipt"
    PRODUCTION_ISSUE = "production_issue", "Production issue"
    PRODUCTION_RETURN = "production_return", "Production return"
    BACKFLUSH = "backflush", "Backflush"
    DELIVERY = "delivery", "Delivery"
    REVERSAL = "reversal", "Reversal"


# Which sign a line of each movement type may carry: +1 only into stock, -1 only out of
# stock, 0 either (but never zero). Data, so the rule is read in one place.
MOVEMENT_SIGN: dict[str, int] = {
    MovementType.RECEIPT: 1,
    MovementType.PRODUCTION_RECEIPT: 1,
    MovementType.PRODUCTION_RETURN: 1,
    MovementType.ISSUE: -1,
    MovementType.PRODUCTION_ISSUE: -1,
    MovementType.BACKFLUSH: -1,
    MovementType.DELIVERY: -1,
    MovementType.TRANSFER: 0,
    MovementType.ADJUSTMENT: 0,
    MovementType.REVERSAL: 0,
}


class ReservationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class BomStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    OBSOLETE = "obsolete", "Obsolete"


class Flushing(models.TextChoices):
    MANUAL = "manual", "Manual"
    FORWARD = "forward", "Forward"
    BACKWARD = "backward", "Backward"
