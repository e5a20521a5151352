from . import controllers
from . import models
from . import wizard
from .unavailable import post_load
