"""``python -m actdiff …``: the same CLI as the ``actdiff`` console script."""

import sys

from actdiff.cli import main

if __name__ == "__main__":
    sys.exit(main())
