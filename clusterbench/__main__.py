from __future__ import annotations

from clusterbench.cli import main

raise SystemExit(main())
