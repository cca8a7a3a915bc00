"""The LightningModule around ``TextCNN``: loss, optimiser, Kim's max-norm constraint,
logging, the test report and ``predict_step``."""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Optional

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason
from lightning.pytorch.trainer.states import TrainerFn

from .metrics import accuracy_and_macro_f1, classification_report, format_report, plot_confusion_matrix, save_report
from .model import TextCNN

__all__ = ["OPTIMIZERS", "TextCNNModule"]

log = logging.getLogger("textcnn")

# name -> (class, default keyword arguments); Adadelta's are Kim's (rho 0.95, eps 1e-6, lr 1.0)
OPTIMIZERS = {
    "adadelta": (torch.optim.Adadelta, {"lr": 1.0, "rho": 0.95, "eps": 1e-6}),
    "adam": (torch.optim.Adam, {"lr": 1e-3}),
    "adamw": (torch.optim.AdamW, {"lr": 1e-3}),
    "sgd": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
}


# What the module (and the command's epoch line, train/epoch_seconds) logs during fit: the names
# a checkpoint or early-stopping callback can monitor.
LOGGED_METRICS = ("val/acc", "val/loss", "val/macro_f1", "train/loss_epoch", "train/acc", "train/loss_step",
                  "train/epoch_seconds")
# The hyper-parameters that are TextCNN's own arguments (the rest are training settings).
MODEL_KEYS = ("vocab_size", "num_classes", "embed_dim", "variant", "kernel_sizes", "num_filters", "act_layer",
              "norm_layer", "pooling", "pool_k", "drop_rate", "init", "conv_padding", "highway")


def _rng_states() -> dict:
    """torch's random states (CPU and every CUDA device), as tensors a weights-only load reads."""
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["cpu"])
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


def _check_same_data(then: dict, now: dict) -> None:
    """A ValueError naming the first difference when the vocabulary or labels a model was
    trained with (``then``) are not those the data gives ``now``."""
    for key in ("vocab", "labels"):
        a, b = then.get(key) or [], now.get(key) or []
        if a != b:
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            first = (f"first at id {at}: {a[at]!r} then, {b[at]!r} now" if at < min(len(a), len(b))
                     else f"{len(a)} entries then, {len(b)} now")
            raise ValueError(
                f"the checkpoint was trained with a different {key} than the data gives now ({first}); "
                "use the training file and --data settings of its fit (train_path, split_seed, "
                "val_fraction, test_fraction, tokenizer, min_freq, ...): its config.yaml has them"
            )


class TextCNNModule(L.LightningModule):
    """Trains and evaluates a ``TextCNN``.

    ``vocab_size``, ``num_classes`` and ``embed_dim`` come from the data module (the CLI
    links them); the pretrained table is copied in at the start of ``fit``. Batches are
    dicts with ``tokens`` (B, L), ``labels`` (B,) and ``index`` (B,).

    Args:
        vocab_size: rows of the embedding table (linked from the data).
        num_classes: number of labels (linked from the data).
        embed_dim: width of the word vectors (linked from the data).
        variant: ``rand``, ``static``, ``non-static`` or ``multichannel`` (Kim 2014).
        kernel_sizes: window widths of the convolutions (Kim: 3, 4, 5).
        num_filters: feature maps per window width (Kim: 100).
        act_layer: activation after each convolution: ``relu``, ``leaky_relu``, ``prelu``,
            ``elu``, ``tanh``, ``sigmoid`` or ``identity``.
        norm_layer: ``null`` or ``batchnorm`` (per feature map over batch x length).
        pooling: ``max`` (Kim's 1-max over time), ``kmax`` or ``avg``.
        pool_k: k of ``kmax`` pooling.
        drop_rate: dropout before the head (Kim: 0.5).
        init: weight initialisation of convolutions and head: ``default``, ``xavier``,
            ``kaiming`` / ``he``, ``uniform`` (+-1/sqrt(fan_in)) or ``normal``.
        conv_padding: ``valid`` (windows inside the text) or ``wide`` (k - 1 zero vectors at
            each end: windows overlapping the text; Kim's code pads with ``max(k) - 1``).
        highway: highway layers (Srivastava et al. 2015) between the pooled features and
            dropout: gated residual connections, each starting close to the identity; 0 (Kim) for none.
        optimizer: ``adadelta`` (Kim; lr 1.0, rho 0.95), ``adam`` (lr 1e-3), ``adamw`` (lr 1e-3) or
            ``sgd`` (lr 0.1, momentum 0.9).
        lr: learning rate; ``None`` takes the optimiser's default.
        weight_decay: L2 penalty (Kim used none, relying on max-norm and dropout).
        label_smoothing: train against ``(1 - e)`` times the one-hot label plus ``e`` spread
            evenly over the classes (Szegedy et al. 2016); 0 (Kim) is plain cross-entropy.
            Validation loss stays plain cross-entropy.
        max_norm: after every optimiser step, rescale each row of the head's weight to at most
            this L2 norm (Kim's s = 3); ``None`` turns it off. A clip of the weights, not of
            the gradients.
        report_dir: where ``test`` writes ``test_metrics.json`` and ``confusion_matrix.png``;
            ``None`` means the logger's folder.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embed_dim: int = 300,
        variant: str = "multichannel",
        kernel_sizes: list[int] = [3, 4, 5],
        num_filters: int = 100,
        act_layer: str = "relu",
        norm_layer: Optional[str] = None,
        pooling: str = "max",
        pool_k: int = 1,
        drop_rate: float = 0.5,
        init: str = "default",
        conv_padding: str = "valid",
        highway: int = 0,
        optimizer: str = "adadelta",
        lr: Optional[float] = None,
        weight_decay: float = 0.0,
        max_norm: Optional[float] = 3.0,
        label_smoothing: float = 0.0,
        report_dir: Optional[str] = None,
    ):
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of: {', '.join(OPTIMIZERS)}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        if max_norm is not None and not max_norm > 0:
            raise ValueError(f"max_norm must be a positive number (or null for no constraint), got {max_norm}: "
                             "at 0 the head's weights would be zeroed after every step")
        if lr is not None and not lr > 0:
            raise ValueError(f"lr must be a positive number (or null for the optimizer's default), got {lr}")
        # Where reports go is the run's, not the model's: kept out of the checkpoint, so a module
        # reloaded with load_from_checkpoint writes to its own trainer's log_dir (or the report_dir given)
        self.save_hyperparameters(ignore=["report_dir"])
        self.report_dir = report_dir
        self.model = TextCNN(**self.model_config())
        # Vocabulary, labels and tokenizer settings: saved in every checkpoint so that a
        # checkpoint can be exported to a bundle without the training data.
        self.data_meta: Optional[dict] = None
        # (index, label, prediction[, loss]) of each batch, for the epoch's figures over every example once
        self._val_outputs: list[tuple[torch.Tensor, ...]] = []
        self._test_outputs: list[tuple[torch.Tensor, ...]] = []
        self.test_report: Optional[dict] = None
        self._train_correct = torch.zeros((), dtype=torch.long)  # this epoch's right answers, loss sum, examples
        self._train_loss_sum = torch.zeros(())
        self._train_seen = 0
        self._finite: Optional[torch.Tensor] = None  # off the CPU: were this epoch's unread losses finite?
        self.steps_trained = 0  # training steps taken by this object (not restored from a checkpoint)
        self._given_patience: dict[int, int] = {}  # each EarlyStopping's patience before a resume restores its own

    def model_config(self) -> dict:
        """The ``TextCNN`` constructor arguments, as saved in a bundle (``highway`` only when used,
        so that a model without it reads as before)."""
        return {k: (list(self.hparams[k]) if k == "kernel_sizes" else self.hparams[k]) for k in MODEL_KEYS
                if k != "highway" or self.hparams.get(k)}

    # -- set-up -----------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        if self._trainer is not None:  # before a resumed fit restores the callbacks' states
            self._given_patience = {id(s): s.patience for s in self.trainer.early_stopping_callbacks}
        dm = self.trainer.datamodule if self._trainer is not None else None
        if dm is None or not hasattr(dm, "meta"):
            if stage == "fit" and self.hparams.variant != "rand" and self.data_meta is None:
                warnings.warn(f"variant {self.hparams.variant!r} trains without pretrained vectors: with no "
                              "TextDataModule to give them, the tables start random (load them with "
                              "module.model.load_pretrained(matrix) first, or train variant 'rand')",
                              UserWarning, stacklevel=2)
            return
        meta = dm.meta()
        self._check_data_fits(meta)
        if self.data_meta is not None:  # weights already trained (load_from_checkpoint, a second fit)
            _check_same_data(self.data_meta, meta)  # on other ids they would score nonsense
            return
        self.data_meta = meta
        if stage == "fit" and self.hparams.variant != "rand":
            matrix = dm.embedding_matrix
            if matrix is None:
                raise ValueError(
                    f"variant {self.hparams.variant!r} needs pretrained vectors: set --data.vectors "
                    "(a file or glove-6b-50d), or use --model.variant rand"
                )
            self.model.load_pretrained(torch.from_numpy(matrix))

    def _check_data_fits(self, meta: dict) -> None:
        """A clear error when the data module's vocabulary, labels or padding do not fit this
        model (a module built by hand; the command line links them)."""
        h = self.hparams
        if len(meta["labels"]) != h.num_classes:
            raise ValueError(f"the model has num_classes={h.num_classes}, the data {len(meta['labels'])} labels "
                             f"{meta['labels'][:10]}: build the module with num_classes=dm.num_classes")
        if len(meta["vocab"]) != h.vocab_size:
            raise ValueError(f"the model has vocab_size={h.vocab_size}, the data's vocabulary "
                             f"{len(meta['vocab'])} words: build the module with vocab_size=dm.vocab_size")
        if (meta.get("min_len") or 1) < self.model.min_len:
            raise ValueError(f"the data module pads texts to min_len={meta.get('min_len')} tokens, shorter than "
                             f"this model's widest window needs ({self.model.min_len}): give "
                             f"TextDataModule(min_len={self.model.min_len}), or the model conv_padding='wide'")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["textcnn"] = {"data": self.data_meta, "model": self.model_config(), "rng": _rng_states()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if self._trainer is not None and self.trainer.state.fn == TrainerFn.FITTING and "rng" in checkpoint.get("textcnn", {}):
            # Lightning does not keep the random state: without it a resumed run would draw the
            # shuffles and dropout masks of its first epochs again instead of those that follow.
            _set_rng_states(checkpoint["textcnn"]["rng"])
        saved = (checkpoint.get("textcnn") or {}).get("data")
        if saved is None:
            return
        if self.data_meta is not None:
            _check_same_data(saved, self.data_meta)
        self.data_meta = saved

    # -- optimisation -----------------------------------------------------------------------
    def configure_optimizers(self):
        cls, defaults = OPTIMIZERS[self.hparams.optimizer]
        kwargs = dict(defaults)
        if self.hparams.lr is not None:
            kwargs["lr"] = self.hparams.lr
        kwargs["weight_decay"] = self.hparams.weight_decay
        params = [p for p in self.model.parameters() if p.requires_grad]
        return cls(params, **kwargs)

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        # Kim's max-norm constraint on the head, after every optimiser step.
        if self.hparams.max_norm is not None:
            self.model.apply_max_norm(self.hparams.max_norm)

    # -- steps ------------------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` token ids -> ``(B, C)`` logits."""
        return self.model(tokens)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        logits = self(batch["tokens"])
        loss = F.cross_entropy(logits, batch["labels"], label_smoothing=self.hparams.label_smoothing)
        self._check_finite(loss, batch_idx)
        n = batch["labels"].numel()
        # The epoch's loss and accuracy are summed here and logged once per epoch, and the step's
        # loss only at the steps the loggers write (every log_every_n_steps): each `self.log` call
        # costs about 0.5 ms on CPU (Lightning moves its metric state every call), 5% of a step of
        # CNN-static on MR. sync_dist: under DDP the logged loss is the mean over every process (a
        # scalar all-reduce beside the gradients' own); in one process it costs nothing.
        connector = getattr(self._trainer, "_logger_connector", None)
        if connector is None or connector.should_update_logs:
            self.log("train/loss_step", loss, prog_bar=True, on_step=True, on_epoch=False, batch_size=n,
                     sync_dist=True)
        with torch.no_grad():
            self._train_loss_sum += loss.detach() * n
            self._train_correct += (logits.argmax(dim=1) == batch["labels"]).sum()
        self._train_seen += n
        self.steps_trained += 1
        return loss

    def _check_finite(self, loss: torch.Tensor, batch_idx: int) -> None:
        """Stop with a clear message once the training loss is NaN or infinite.

        Reading the loss on the host makes the host wait for the device to finish the step,
        so off the CPU the check keeps a flag on the device and reads it only every
        ``log_every_n_steps`` steps and at the last batch of the epoch; the host can then queue
        the next steps while the device works.
        """
        finite = torch.isfinite(loss.detach())
        on_cpu = finite.device.type == "cpu"
        if not on_cpu:
            self._finite = finite if self._finite is None else self._finite & finite
            trainer = self._trainer
            every = trainer.log_every_n_steps if trainer is not None else 1
            last = trainer is None or batch_idx + 1 >= trainer.num_training_batches
            if (batch_idx + 1) % max(every, 1) and not last:
                return
            finite, self._finite = self._finite, None
        if not finite:
            value, by = (loss.item(), "") if on_cpu else ("NaN or infinite", "by ")
            raise FloatingPointError(
                f"the training loss became {value} at epoch {self.current_epoch + 1}, {by}step {self.global_step}; "
                f"lower the learning rate "
                f"(now {self.optimizers().param_groups[0]['lr']}) or check the data"
            )

    def on_fit_start(self) -> None:
        # Resumed from the checkpoint of a run that early stopping had ended, the restored patience
        # is used up: Lightning would train one more epoch and stop again. End before any epoch
        # instead, as a run resumed at max_epochs does (fit then tests its best checkpoint). The
        # callbacks' states are restored before this hook (after it only with strategies that
        # restore after setup, such as DeepSpeed, which textcnn does not configure).
        for stopper in self.trainer.early_stopping_callbacks:
            given = self._given_patience.get(id(stopper), stopper.patience)
            if given != stopper.patience and self.trainer.is_global_zero:
                warnings.warn(f"the resumed run keeps its EarlyStopping patience of {stopper.patience} (Lightning "
                              f"restores it from the checkpoint), not the {given} given", UserWarning, stacklevel=1)
            if stopper.stopping_reason != EarlyStoppingReason.NOT_STOPPED:
                if self.trainer.is_global_zero:
                    why = (f"{stopper.monitor} no better for {stopper.patience} epoch"
                           f"{'' if stopper.patience == 1 else 's'}"
                           if stopper.stopping_reason == EarlyStoppingReason.PATIENCE_EXHAUSTED
                           else stopper.stopping_reason_message or stopper.stopping_reason.name.lower())
                    log.info("the run resumed from had stopped early after epoch %d (%s): nothing left to train",
                             stopper.stopped_epoch + 1, why)
                self.trainer.should_stop = True

    def on_train_epoch_start(self) -> None:
        self._train_correct = torch.zeros((), dtype=torch.long, device=self.device)
        self._train_loss_sum = torch.zeros((), device=self.device)
        self._train_seen = 0
        self._finite = None

    def on_train_epoch_end(self) -> None:
        self.log_train_epoch()

    def log_train_epoch(self) -> None:
        """Log the epoch's training loss and accuracy, once per epoch. Called by this module's
        ``on_train_epoch_end``, which Lightning runs after the callbacks' own: a callback that
        shows them at the end of an epoch (textcnn's epoch line) calls this first."""
        if self._train_seen:
            self.log("train/loss_epoch", self._train_loss_sum / self._train_seen, prog_bar=True, sync_dist=True)
            self.log("train/acc", self._train_correct.float() / self._train_seen, sync_dist=True)
            self._train_seen = 0

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        logits = self(batch["tokens"])
        loss = F.cross_entropy(logits, batch["labels"], reduction="none")
        self._val_outputs.append((batch["index"], batch["labels"], logits.argmax(dim=1), loss))

    def on_validation_epoch_start(self) -> None:
        self._val_outputs.clear()

    def on_validation_epoch_end(self) -> None:
        """Dev loss, accuracy and macro-F1 over every dev example once (also under DDP, whose
        sampler pads the processes' shares with repeats: a repeat would count twice, and could
        change which epoch is best). Macro-F1, for imbalanced data (``--checkpoint.monitor
        val/macro_f1``), averages the classes present in the truth or the predictions, as the
        test report's does."""
        if not self._val_outputs:
            return
        y_true, y_pred, loss = self._each_example_once(self._val_outputs)
        acc, macro_f1 = accuracy_and_macro_f1(y_true, y_pred, self.hparams.num_classes)
        # the same values on every process: sync_dist only averages equal values (and keeps
        # Lightning from warning under DDP)
        self.log("val/loss", loss.mean(), sync_dist=True)
        self.log("val/acc", acc, prog_bar=True, sync_dist=True)
        self.log("val/macro_f1", macro_f1, sync_dist=True)

    def _each_example_once(self, outputs: list[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
        """The batches' ``(index, *values)`` concatenated (and emptied), from every process under
        DDP with each dataset example once: ``values`` in index order, without the index."""
        index, *values = (torch.cat(t) for t in zip(*outputs))
        outputs.clear()
        if self.trainer.world_size > 1:
            # Distributed samplers pad with repeats: gather from every process, keep each example once.
            index, *values = (self.all_gather(t).flatten() for t in (index, *values))
            order = torch.argsort(index, stable=True)
            index, values = index[order], [v[order] for v in values]
            first = torch.ones_like(index, dtype=torch.bool)
            first[1:] = index[1:] != index[:-1]
            values = [v[first] for v in values]
        return tuple(values)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        preds = self(batch["tokens"]).argmax(dim=1)
        self._test_outputs.append((batch["index"], batch["labels"], preds))

    def on_test_epoch_start(self) -> None:
        self._test_outputs.clear()
        # where the report goes, checked on every process before the test (under DDP a failure on
        # the first process alone, at the end, would leave the others waiting for it)
        out = self._report_dir()
        if out is not None:
            existing = next(p for p in (out, *out.parents) if p.exists())
            if not existing.is_dir():
                raise ValueError(f"the test report's folder {out}: {existing} is a file, not a folder; "
                                 "give --model.report_dir another folder")
            if not os.access(existing, os.W_OK | os.X_OK):
                raise PermissionError(f"the test report's folder {out}: {existing} is not writable; give "
                                      "--model.report_dir another folder")

    def on_test_epoch_end(self) -> None:
        y_true, y_pred = self._each_example_once(self._test_outputs)
        labels = (self.data_meta or {}).get("labels") or [str(i) for i in range(self.hparams.num_classes)]
        report = classification_report(y_true.cpu().numpy(), y_pred.cpu().numpy(), labels)
        # what was tested on what, for a report read later (its run's config.yaml says the rest)
        report["checkpoint"] = str(self.trainer.ckpt_path) if self.trainer.ckpt_path else None
        report["test_data"], tested_file = self._test_source()
        skipped = getattr(self.trainer.datamodule, "skipped", {}).get(tested_file)
        if skipped is not None:
            # rows of that file left out for an empty text (from the whole file when the test part is
            # held out of it): counted in the report kept, not only in a warning
            report["empty_texts_skipped"] = len(skipped)
        self.test_report = report
        # The report is already over every process's examples, the same on each: sync_dist only
        # averages equal values (and keeps Lightning from warning under DDP).
        self.log("test/acc", report["accuracy"], sync_dist=True)
        self.log("test/macro_f1", report["macro_f1"], sync_dist=True)
        out = self._report_dir()  # on every process: trainer.log_dir is a collective call under DDP
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            print("\n" + format_report(report) + "\n")
            if out is not None:
                save_report(report, out / "test_metrics.json")
                if plot_confusion_matrix(report, out / "confusion_matrix.png"):
                    print(f"test metrics written to {out / 'test_metrics.json'} and {out / 'confusion_matrix.png'}")
                else:
                    print(f"test metrics written to {out / 'test_metrics.json'} (no confusion-matrix plot for "
                          f"{len(labels)} classes)")

    def _test_source(self) -> tuple[Optional[str], Optional[str]]:
        """The test data as the report names it (the test file, or which part of the training file
        was held out as test), and the file its rows were read from."""
        h = getattr(getattr(self.trainer, "datamodule", None), "hparams", None)
        if not h:
            return None, None
        train = h.get("train_path")
        if h.get("test_path"):
            return str(h["test_path"]), str(h["test_path"])
        if h.get("num_folds"):
            return f"fold {h.get('fold', 0)} of {h['num_folds']} of {train} (split_seed {h.get('split_seed')})", str(train)
        if h.get("test_fraction"):
            return f"{h['test_fraction']:g} of {train} held out (split_seed {h.get('split_seed')})", str(train)
        return None, None

    def _report_dir(self) -> Optional[Path]:
        if self.report_dir:
            return Path(self.report_dir)
        if self.trainer.log_dir:
            return Path(self.trainer.log_dir)
        return None

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> dict:
        """Probabilities ``(B, C)`` with the dataset ``index`` (B,) of each row."""
        return {"index": batch["index"], "probs": torch.softmax(self(batch["tokens"]), dim=-1)}
