"""`python -m cnmlab`: the same as the `cnmlab` command."""

import sys

from .cli import main

sys.exit(main())
