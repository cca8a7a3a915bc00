"""textcnn: Kim (2014) convolutional sentence classification on PyTorch Lightning.

The public API for other programs is ``TextClassifier``::

    from textcnn import TextClassifier
    clf = TextClassifier.load("checkpoints/mr-multichannel-glove50")
    clf.predict(["a gorgeous, witty, seductive movie."])
"""
from .api import Prediction, TextClassifier

__all__ = ["Prediction", "TextClassifier", "__version__"]
__version__ = "0.1.0"
