"""The self-contained model bundle: ``model.safetensors`` (weights) plus ``textcnn.json``
(model config, vocabulary, tokenizer settings, label names). Loading runs no pickled code
and needs no training data. Writes are atomic."""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Optional

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from .bundle import (
    _REQUIRED, BUNDLE_FILES, BUNDLE_FORMAT, BUNDLE_VERSION, CONFIG_FILE, ONNX_FILE, ONNX_WEIGHTS_KEY, WEIGHTS_FILE, BundleError,
    BundleText, read_bundle_config,
)
from .fileio import checkpoint_not_there, current_umask, naming, not_writable, remove_stale_temps, temp_prefix
from .model import TextCNN

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "WEIGHTS_FILE",
    "CONFIG_FILE",
    "BundleError",
    "save_bundle",
    "read_bundle_config",
    "load_bundle",
    "export_checkpoint",
    "export_onnx",
]

def save_bundle(path: str | os.PathLike, model: TextCNN, config: dict, onnx: bool = False) -> Path:
    """Write ``model``'s weights and ``config`` as a bundle folder at ``path``.

    ``config`` holds ``model`` (the ``TextCNN`` arguments), ``vocab`` (id -> token list),
    ``labels``, ``tokenizer`` (its ``to_config()``) and optionally ``max_len``, ``min_len``,
    ``metrics``. The bundle is assembled in a temporary folder beside ``path`` and renamed
    into place, so an interrupted export leaves no partial bundle; an existing bundle at
    ``path`` is replaced only once the new one is complete. With ``onnx``, ``model.onnx``
    (``export_onnx``) is part of the new bundle, made before it replaces the old one. A failed
    write (a read-only folder, a full disk) is an OSError naming ``path``, not the temporary.
    """
    path = Path(path)
    if not path.name:  # "." or "/": the folder's own name, for the temporary folder beside it
        path = path.resolve()
    if path.resolve() == Path.cwd().resolve() or path.resolve() in Path.cwd().resolve().parents:
        raise BundleError(f"{path}: the current folder or one above it; replacing it would pull the folder out "
                          "from under this shell: export to another folder")
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise BundleError(f"bundle config lacks {', '.join(missing)}")
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not (path / CONFIG_FILE).exists())):
        raise BundleError(f"{path}: exists and is not a textcnn bundle; choose another output path")
    others = sorted(p.name for p in path.iterdir() if p.name not in BUNDLE_FILES) if path.is_dir() else []
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise BundleError(f"{path}: a bundle, but it also holds {shown}, which replacing the bundle would delete; "
                          "move them out, or export to another folder")
    if len(config["vocab"]) != model.embedding.num_embeddings or len(config["labels"]) != model.num_classes:
        raise BundleError(
            f"vocabulary ({len(config['vocab'])}) or labels ({len(config['labels'])}) do not match the model "
            f"({model.embedding.num_embeddings} rows, {model.num_classes} classes)"
        )
    meta = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **config,
    }
    why = not_writable(path, probe=False)
    if why:
        raise BundleError(f"{path}: {why}; choose another output path")
    naming(path, lambda: path.parent.mkdir(parents=True, exist_ok=True))
    remove_stale_temps(path)  # what an export killed midway left
    tmp = naming(path, lambda: Path(tempfile.mkdtemp(prefix=temp_prefix(path), dir=path.parent)))
    umask = current_umask()
    old = path.with_name(f".{path.name}.old")
    moved_aside = False

    def write() -> None:
        nonlocal moved_aside
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a bundle is as readable as any output
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        weights = save_safetensors(state, metadata={"format": BUNDLE_FORMAT})
        (tmp / WEIGHTS_FILE).write_bytes(weights)
        # Ties the two files together: a load that meets a half-replaced bundle, or damaged
        # weights, is refused instead of pairing one export's config with another's weights.
        meta["weights_sha256"] = hashlib.sha256(weights).hexdigest()
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        for f in (WEIGHTS_FILE, CONFIG_FILE):
            (tmp / f).chmod(0o666 & ~umask)
        if onnx:
            export_onnx(tmp)
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            moved_aside = True
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)

    try:
        naming(path, write)  # a full disk names no file, a read-only one the temporary: name the bundle
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if moved_aside and not path.exists():  # stopped between the two renames (SIGTERM): the old bundle back
            with contextlib.suppress(OSError):
                os.replace(old, path)
        raise
    return path


def load_bundle(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[TextCNN, dict]:
    """Build the ``TextCNN`` of a bundle and load its weights (no pickle); returns ``(model, config)``."""
    path = Path(path)
    config = read_bundle_config(path)
    try:
        # parameters without storage: the weights file's tensors become them (assign=True below),
        # so that loading holds the weights about twice at its peak, not four times, and skips
        # initialising tables that are overwritten at once
        with torch.device("meta"):
            model = TextCNN(**config["model"])
    except (TypeError, ValueError) as e:
        raise BundleError(f"{path / CONFIG_FILE}: invalid model config: {e}") from None
    if len(config["vocab"]) != model.embedding.num_embeddings or len(config["labels"]) != model.num_classes:
        raise BundleError(
            f"{path / CONFIG_FILE}: vocabulary has {len(config['vocab'])} entries and labels "
            f"{len(config['labels'])}, but the model config says {model.embedding.num_embeddings} and "
            f"{model.num_classes}; the bundle is inconsistent, re-export it"
        )
    weights = path / WEIGHTS_FILE
    try:
        data = weights.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{path}: {WEIGHTS_FILE} is missing; re-export the bundle") from None
    except OSError as e:
        raise BundleError(f"{weights}: unreadable weights ({e}); re-export the bundle") from None
    digest = hashlib.sha256(data).hexdigest()
    expected = config.setdefault("weights_sha256", digest)  # bundles from before it was written have none
    if digest != expected:
        raise BundleError(
            f"{weights}: not the weights {CONFIG_FILE} was written with (SHA-256 differs): the bundle was being "
            "replaced while it was read (load it again) or is damaged (re-export it)"
        )
    try:
        state = load_safetensors(data)
    except (SafetensorError, OSError) as e:
        raise BundleError(f"{weights}: unreadable weights ({e}); re-export the bundle") from None
    del data
    expected = {name: t.dtype for name, t in model.state_dict().items()}
    other = [f"{name} ({t.dtype})" for name, t in state.items() if expected.get(name, t.dtype) != t.dtype]
    if other:  # it would load, then fail in the first matrix product, or compute in another precision
        raise BundleError(f"{weights}: {', '.join(other[:5])} not of the type textcnn writes "
                          f"({expected[other[0].split(' ')[0]]}); the weights are damaged, re-export the bundle")
    bad = [name for name, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise BundleError(f"{weights}: NaN or infinite values in {', '.join(bad[:5])}; the weights are damaged, "
                          "re-export the bundle")
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        details = [line.strip() for line in str(e).split("\n")[1:] if line.strip()] or [str(e)]
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise BundleError(
            f"{weights}: weights do not match {CONFIG_FILE}: {details[0]}{more}; the bundle is inconsistent, "
            "re-export it with `textcnn export`"
        ) from None
    return model.to(device).eval(), config


def export_checkpoint(ckpt_path: str | os.PathLike, out: str | os.PathLike, metrics: Optional[dict] = None,
                      onnx: bool = False) -> Path:
    """Turn a training checkpoint into a bundle at ``out`` (with ``model.onnx`` if ``onnx``, as
    in ``save_bundle``). The checkpoint is read with ``torch.load(weights_only=True)``: tensors
    and plain data only, no code."""
    ckpt_path = Path(ckpt_path)
    why = checkpoint_not_there(ckpt_path)
    if why:
        raise BundleError(why)
    try:
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for corrupt or foreign files
        # torch's own text (e.g. advice to load with weights_only=False, which runs pickled code) helps nobody here
        why = ("it holds pickled objects other than tensors and plain data" if "weights_only" in str(e)
               else type(e).__name__)
        raise BundleError(f"{ckpt_path}: cannot read checkpoint ({why}): not a .ckpt that `textcnn fit` wrote, or "
                          "a damaged one") from None
    info = ckpt.get("textcnn") if isinstance(ckpt, dict) else None
    if not info or not info.get("data") or not info.get("model"):
        raise BundleError(f"{ckpt_path}: not a textcnn training checkpoint (no vocabulary or model config in it)")
    prefix = "model."
    state = {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    model = TextCNN(**info["model"])
    model.load_state_dict(state, strict=True)
    data = info["data"]
    config = {
        "model": info["model"],
        "vocab": data["vocab"],
        "labels": data["labels"],
        "tokenizer": data["tokenizer"],
        "max_len": data.get("max_len"),
        "min_len": data.get("min_len") or model.min_len,
        "source_checkpoint": ckpt_path.name,
    }
    if metrics:
        config["metrics"] = metrics
    return save_bundle(out, model, config, onnx)


def require_onnx() -> None:
    """A BundleError saying what to install when the ``onnx`` package (the exporter's) is missing."""
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        raise BundleError("ONNX export needs the onnx package: pip install onnx onnxruntime "
                          "(in a checkout: pip install -e \".[export]\")")


def export_onnx(bundle: str | os.PathLike, opset: int = 17) -> Path:
    """Add ``model.onnx`` to the bundle folder ``bundle``, beside its ``textcnn.json``.

    The graph maps ``tokens`` ``(B, L)`` int64 ids to ``logits`` ``(B, C)``, with dynamic
    batch and length; inputs must be padded with id 0 to at least ``min_len`` (the largest
    window, 1 with wide padding) tokens, as ``textcnn.onnx_predict`` does. Masked pooling is in the graph, so
    padding changes no output. Written to a temporary file, then renamed; a failed write is an
    OSError naming ``model.onnx``.
    """
    require_onnx()
    bundle = Path(bundle)
    model, config = load_bundle(bundle, device="cpu")
    example = torch.ones(2, BundleText(config).min_len + 3, dtype=torch.long)
    tmp = bundle / f".{ONNX_FILE}.tmp"

    def write() -> None:
        with warnings.catch_warnings():  # the input checks (check_input) are traced as constants
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter: dynamic axes, no onnxscript
            torch.onnx.export(
                model, (example,), str(tmp), dynamo=False, opset_version=opset,
                input_names=["tokens"], output_names=["logits"],
                dynamic_axes={"tokens": {0: "batch", 1: "length"}, "logits": {0: "batch"}},
            )
        import onnx

        graph = onnx.load(str(tmp))  # the weights it was made from, checked by OnnxClassifier
        entry = graph.metadata_props.add()
        entry.key = ONNX_WEIGHTS_KEY
        entry.value = config["weights_sha256"]  # load_bundle checked it, or computed it for an older bundle
        onnx.save(graph, str(tmp))
        os.replace(tmp, bundle / ONNX_FILE)

    try:
        naming(bundle / ONNX_FILE, write)
    except BaseException:
        with contextlib.suppress(OSError):  # on a read-only disk, unlink fails even with nothing to remove
            tmp.unlink()
        raise
    return bundle / ONNX_FILE
