# The small production plant is shared with the browser tests.
from tests.production.conftest import plant  # noqa: F401
from tests.sales.conftest import splant  # noqa: F401
