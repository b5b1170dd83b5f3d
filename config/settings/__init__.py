"""Settings, split by concern. Every value that differs between machines comes from the
environment; see README "Configuration"."""

from config.settings.api import *  # noqa: F403
from config.settings.core import *  # noqa: F403
from config.settings.database import *  # noqa: F403
from config.settings.security import *  # noqa: F403
from config.settings.tasks import *  # noqa: F403
