from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "sales"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from production.selectors import register_sales_line_labels
        from sales.selectors import sales_line_labels

        # Production names the sales demand behind its orders without importing sales.
        register_sales_line_labels(sales_line_labels)
