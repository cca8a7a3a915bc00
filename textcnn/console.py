"""The ``textcnn`` console script: names what to install when torch or Lightning is missing (an
ONNX-only install for a service has neither), else runs ``textcnn.cli.main``."""
from __future__ import annotations

import sys
from typing import Optional

__all__ = ["main"]


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if [a for a in argv if a != "--debug"] in (["--version"], ["-V"]):  # without torch: at once, in any install
        from . import __version__

        print(f"textcnn {__version__}")
        return 0
    try:
        import lightning  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        print(f"textcnn: error: the textcnn command needs the full install ({e.name} is not installed): "
              "pip install torch==2.13.0, then this package with its dependencies; a service that only runs "
              "model.onnx needs no command (textcnn.onnx_predict.OnnxClassifier)", file=sys.stderr)
        return 2
    from .cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.argv[0] = "textcnn"  # the name in usage lines, not console.py
    sys.exit(main())
