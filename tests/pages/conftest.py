# The small production plant and its planner, shared with the page tests.
from tests.production.conftest import planner, plant  # noqa: F401
from tests.sales.conftest import splant  # noqa: F401
