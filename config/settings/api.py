from datetime import timedelta

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    # drf-spectacular's, tagging each operation with its resource (config/schema.py).
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

REST_KNOX = {
    "TOKEN_TTL": timedelta(days=90),
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Production order management API",
    "DESCRIPTION": (
        "Integration contract for production orders, stock and planning. Authenticate with "
        "`Authorization: Token <token>`. Errors are `{code, message, fields}`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The contract is /api/v1/: the shop-floor terminal's confirm button (/floor/) is a
    # session-only page endpoint, not something an integrating system calls.
    "PREPROCESSING_HOOKS": ["config.schema.preprocess_api_only"],
    # Pinned rather than guessed from the paths' common prefix (/api/v1), which would drop it
    # from every operationId (api_v1_production_orders_release_create) and so rename the
    # methods of every generated client.
    "SCHEMA_PATH_PREFIX": "",
    # One name per choice set where one field name (status, flushing, movement_type) carries
    # different choice sets on different resources, or one choice set has two field names
    # (an item's strategy is the order type of its production orders). Choice sets are
    # told apart by values and labels, so each entry names exactly one of them.
    "ENUM_NAME_OVERRIDES": {
        "ProductionOrderStatusEnum": "production.enums.OrderStatus",
        "SalesOrderStatusEnum": "sales.enums.SalesOrderStatus",
        # draft / active / obsolete of BOMs and routings (planning.enums.RoutingStatus is the same set)
        "LifecycleStatusEnum": "inventory.enums.BomStatus",
        "BomLineFlushingEnum": "inventory.enums.Flushing",
        "ComponentFlushingEnum": "production.enums.Flushing",
        "MovementTypeEnum": "inventory.enums.MovementType",
        # also production.enums.OrderType, the same set
        "StrategyEnum": "inventory.enums.Strategy",
    },
    # Error bodies and Idempotency-Key on every operation (config/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.postprocess_error_responses",
        "config.schema.postprocess_idempotency_keys",
    ],
}

API_MAX_PAGE_SIZE = 500
IDEMPOTENCY_KEY_TTL = timedelta(hours=48)
