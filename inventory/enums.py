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
