"""The JSON side of a bundle, torch-free: format constants, ``BundleError`` and
``read_bundle_config``, shared by ``export`` (torch) and ``onnx_predict`` (onnxruntime only)."""
from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "WEIGHTS_FILE", "CONFIG_FILE", "ONNX_FILE", "BundleError",
           "read_bundle_config"]

BUNDLE_FORMAT = "textcnn-bundle"
BUNDLE_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "textcnn.json"
ONNX_FILE = "model.onnx"
_REQUIRED = ("model", "vocab", "labels", "tokenizer")


class BundleError(ValueError):
    """A bundle that cannot be written or read; the message names the file and what is wrong."""


def read_bundle_config(path: str | os.PathLike) -> dict:
    """Read and check ``textcnn.json`` of the bundle at ``path``."""
    path = Path(path)
    cfg_path = path / CONFIG_FILE
    if not cfg_path.is_file():
        raise BundleError(f"{path}: not a textcnn bundle (no {CONFIG_FILE}); create one with `textcnn export`")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{cfg_path}: not valid JSON ({e}); re-export the bundle") from None
    if config.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{cfg_path}: format is {config.get('format')!r}, expected {BUNDLE_FORMAT!r}")
    if config.get("version", 0) > BUNDLE_VERSION:
        raise BundleError(
            f"{cfg_path}: bundle version {config['version']} is newer than this textcnn reads "
            f"({BUNDLE_VERSION}); upgrade textcnn"
        )
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise BundleError(f"{cfg_path}: missing {', '.join(missing)}")
    return config
