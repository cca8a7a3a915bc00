"""``python -m textcnn``: the ``textcnn`` command, for an environment whose scripts folder is not
on PATH."""
import sys

from .console import main

sys.argv[0] = "textcnn"  # the name in usage lines, not __main__.py
sys.exit(main())
