"""``python -m ageflow.cli``: the same as the ``ageflow`` command."""

from ageflow.cli.app import main

if __name__ == "__main__":
    main()
