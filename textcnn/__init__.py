"""textcnn: Kim (2014) convolutional sentence classification on PyTorch Lightning.

The public API for other programs is ``TextClassifier``::

    from textcnn import TextClassifier
    clf = TextClassifier.load("checkpoints/mr-multichannel-glove50")
    clf.predict(["a gorgeous, witty, seductive movie."])
"""
from typing import TYPE_CHECKING, Any

__all__ = ["BundleError", "Prediction", "Explanation", "TextClassifier", "__version__"]
__version__ = "0.1.0"

if TYPE_CHECKING:  # what a type checker reads; at run time the lazy lookup below imports them
    from .api import Explanation, TextClassifier
    from .bundle import BundleError, Prediction


def __getattr__(name: str) -> Any:
    # Lazy, so that torch-free modules (textcnn.onnx_predict, textcnn.text) import without torch.
    if name in ("BundleError", "Prediction"):
        from . import bundle

        return getattr(bundle, name)
    if name in ("Explanation", "TextClassifier"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'textcnn' has no attribute {name!r}")
