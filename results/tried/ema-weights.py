"""Try: dev and test accuracy of an exponential moving average of the weights (Lightning's own
EMAWeightAveraging callback, added to every Trainer the bench builds), decay from EMA_DECAY.

    EMA_DECAY=0.998 python results/tried/ema-weights.py --datasets thucnews --variants non-static \
        --baselines --patience 10 --jobs 1 --threads 1 --out results/tried/thucnews-ema

Takes `textcnn bench`'s options; --jobs 1, because spawned workers would not see the patch.
"""
import os
import sys

import lightning as L
from lightning.pytorch.callbacks import EMAWeightAveraging

_init = L.Trainer.__init__


def init(self, *args, callbacks=None, **kwargs):
    callbacks = list(callbacks or []) + [EMAWeightAveraging(decay=float(os.environ["EMA_DECAY"]))]
    _init(self, *args, callbacks=callbacks, **kwargs)


L.Trainer.__init__ = init

from textcnn.cli import main  # noqa: E402  (after the patch)

sys.exit(main(["bench"] + sys.argv[1:]))
