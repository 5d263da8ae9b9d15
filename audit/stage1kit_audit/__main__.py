"""``python -m stage1kit_audit PATHS``: the audit without the rest of stage1kit (fast for pre-commit)."""

from .cli import main

if __name__ == "__main__":
    main()
