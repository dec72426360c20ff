"""`python -m rlhf_core ...`: see rlhf_core/cli.py."""

from rlhf_core.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
