"""``python -m contracts`` is ``python -m contracts.build``."""

from contracts.build import main

raise SystemExit(main())
