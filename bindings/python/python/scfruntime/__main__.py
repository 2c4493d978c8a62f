"""``python -m scfruntime [--max-invocations N] [HANDLER]``: serve HANDLER (default
``$_HANDLER``, e.g. ``index.main_handler``) from the current directory."""

import sys

from scfruntime._scfruntime import main

sys.exit(main(sys.argv[1:]))
