"""`python -m engine.app.cli`: the `shopnow` command."""

import sys

from engine.app.cli import main

sys.exit(main())
