"""The package ships ``py.typed``: a user's type checker reads its annotations. mypy --strict over
a script written as the README shows sees the public API's real types, accepts what the API
accepts at run time and flags what it does not."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

USER_SCRIPT = '''\
from textcnn import BundleError, Prediction, TextClassifier
from textcnn.data import read_examples
from textcnn.embeddings import build_embedding_matrix
from textcnn.layers import init_weights
from textcnn.onnx_predict import OnnxClassifier
from textcnn.text import Vocab

import torch
from torch import nn

clf = TextClassifier.load("checkpoints/mr-multichannel-glove50", device="cpu")
reveal_type(clf.predict(t for t in ["a", "b"]))           # any iterable of str, as at run time
reveal_type(clf.predict("one text")[0].label)
reveal_type(clf.predict_proba(iter(["a"])))
texts, labels = read_examples("train.csv")
reveal_type(labels)
texts, none = read_examples("new.txt", with_labels=False)
reveal_type(none)
texts, labels, lines = read_examples("train.csv", return_lines=True)
reveal_type(lines)
vocab = Vocab.build([["a", "b"]])
reveal_type(vocab.decode(torch.tensor([2, 3])))
matrix, stats = build_embedding_matrix(vocab, "vectors.txt")
init_weights(nn.Linear(2, 2), "xavier", nonlinearity=None)
onnx = OnnxClassifier.load("bundle", providers=["CPUExecutionProvider"])
try:
    pass
except BundleError as e:
    reveal_type(e)
p: Prediction = clf.predcit(["a typo"])[0]
n: int = clf.predict_proba("x")
OnnxClassifier.load("bundle", provider="CPUExecutionProvider")
flag: bool = bool(len(texts))
texts, maybe = read_examples("train.csv", with_labels=flag)
texts, maybe = read_examples("new.txt", "text", "text", "label", False)
reveal_type(maybe)
from textcnn.model import TextCNN  # noqa: E402
TextCNN(100, 2, act_layer=nn.GELU, norm_layer=nn.BatchNorm1d)  # a class, as at run time
TextCNN(100, 2, act_layer=None, norm_layer="batchnorm")
TextCNN(100, 2, act_layer=nn.GELU())
'''

EXPECTED = [
    'user.py:12: note: Revealed type is "list[textcnn.bundle.Prediction]"',
    'user.py:13: note: Revealed type is "str"',
    'user.py:14: note: Revealed type is "numpy.ndarray[tuple[Any, ...], numpy.dtype[Any]]"',
    'user.py:16: note: Revealed type is "list[str]"',
    'user.py:18: note: Revealed type is "None"',
    'user.py:20: note: Revealed type is "list[int]"',
    'user.py:22: note: Revealed type is "list[str]"',
    'user.py:29: note: Revealed type is "textcnn.bundle.BundleError"',
    'user.py:30: error: "TextClassifier" has no attribute "predcit"  [attr-defined]',
    'user.py:31: error: Incompatible types in assignment (expression has type "ndarray[tuple[Any, ...], dtype[Any]]", '
    'variable has type "int")  [assignment]',
    'user.py:32: error: Unexpected keyword argument "provider" for "load" of "OnnxClassifier"; did you mean '
    '"providers"?  [call-arg]',
    'user.py:36: note: Revealed type is "list[str] | None"',
    'user.py:40: error: Argument "act_layer" to "TextCNN" has incompatible type "GELU"; expected "str | type | None"  '
    '[arg-type]',
]


def test_a_users_type_checker_sees_the_public_api_as_it_behaves(tmp_path):
    pytest.importorskip("mypy", reason="mypy comes with the dev extra: pip install -e '.[dev]'")
    (tmp_path / "user.py").write_text(USER_SCRIPT, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-error-summary",
                          "--hide-error-context", "--no-pretty", "--show-absolute-path", "--cache-dir",
                          str(tmp_path / "cache"), "user.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    # older mypy spells builtins.list; "defined in" notes only point at the definition
    lines = [line.replace(str(tmp_path / "user.py"), "user.py").replace("builtins.", "")
             for line in run.stdout.splitlines() if "defined in" not in line]
    assert [line for line in lines if line.startswith("user.py:")] == EXPECTED, run.stdout + run.stderr
