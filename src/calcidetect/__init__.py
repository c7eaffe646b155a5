"""calcidetect: find and classify soft-tissue calcifications on radiographs.

For research use only; not a diagnostic device.

>>> import calcidetect as cd
>>> cd.PATTERNS
('punctate', 'plaque', 'lobular', 'periarticular', 'linear')
"""

from ._version import __version__
from .config import Config
from .errors import CalcidetectError, ConfigError, LoadError
from .io import load_image
from .pipeline import detect
from .radiograph import Radiograph
from .result import PATTERNS, Focus, Pattern, Result

__all__ = [
    "__version__",
    "Config",
    "CalcidetectError",
    "ConfigError",
    "LoadError",
    "load_image",
    "detect",
    "Radiograph",
    "PATTERNS",
    "Pattern",
    "Focus",
    "Result",
]
