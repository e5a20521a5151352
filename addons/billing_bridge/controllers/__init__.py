from . import health
from . import main
