"""`python -m cnmlab.engine`: run the engine in the foreground (clients start it this way)."""

import sys

from .server import Engine

if __name__ == "__main__":
    sys.exit(Engine().run())
