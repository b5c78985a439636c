from __future__ import annotations

try:
    from clusterbench.cli import main
except KeyboardInterrupt:  # Ctrl-C while the CLI loads: nothing was started yet
    raise SystemExit(130) from None

raise SystemExit(main())
