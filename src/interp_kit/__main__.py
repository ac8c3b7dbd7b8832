"""`python -m interp_kit ...` runs the `interp-kit` command."""
from .pipeline.cli import main

raise SystemExit(main())
