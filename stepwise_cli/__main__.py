"""``python -m stepwise_cli``: the ``stepwise`` command without installing it."""

import sys

from stepwise_cli.main import main

sys.exit(main())
