"""Every write to production orders. Import from here: ``from production import services``."""

from production.services.combining import production_order_split, production_orders_merge
from production.services.confirmations import (
    ConfirmationInput,
    backflush_lines,
    confirmation_create,
    confirmation_post,
    confirmation_posting_retry,
    confirmation_posting_retry_now,
    confirmation_reverse,
    confirmations_post_pending,
    posting_outbox_sweep,
)
from production.services.firming import planned_orders_firm
from production.services.lifecycle import (
    production_order_cancel,
    production_order_close,
    production_order_engineering_approve,
    production_order_release,
)
from production.services.materials import IssueLine, production_order_issue
from production.services.orders import (
    ComponentInput,
    OperationInput,
    OrderDraft,
    production_order_component_add,
    production_order_component_remove,
    production_order_component_update,
    production_order_create,
    production_order_delete,
    production_order_operation_add,
    production_order_operation_remove,
    production_order_operation_update,
    production_order_reschedule,
    production_order_update,
    production_orders_create_bulk,
)

__all__ = [
    "ComponentInput",
    "ConfirmationInput",
    "IssueLine",
    "OperationInput",
    "OrderDraft",
    "backflush_lines",
    "confirmation_create",
    "confirmation_post",
    "confirmation_posting_retry",
    "confirmation_posting_retry_now",
    "confirmation_reverse",
    "confirmations_post_pending",
    "planned_orders_firm",
    "posting_outbox_sweep",
    "production_order_cancel",
    "production_order_close",
    "production_order_component_add",
    "production_order_component_remove",
    "production_order_component_update",
    "production_order_create",
    "production_order_delete",
    "production_order_engineering_approve",
    "production_order_issue",
    "production_order_operation_add",
    "production_order_operation_remove",
    "production_order_operation_update",
    "production_order_release",
    "production_order_reschedule",
    "production_order_split",
    "production_order_update",
    "production_orders_create_bulk",
    "production_orders_merge",
]
