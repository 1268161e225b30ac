"""``python -m app``: see ``app/serve.py``."""

from .serve import main

main()
