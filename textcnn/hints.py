"""``did you mean ...?`` for a mistyped option name, from the names a command knows (pure Python)."""
from __future__ import annotations

import argparse
import difflib
import re
from typing import Iterable

__all__ = ["close_names", "did_you_mean", "HintingArgumentParser"]

# Words people write for the words the options use.
SYNONYMS = {"file": "path", "size": "fraction", "dropout": "drop_rate", "gpus": "devices", "gpu": "devices",
            "epochs": "max_epochs", "learning_rate": "lr", "length": "len", "tokeniser": "tokenizer",
            "vectors_file": "vectors", "dir": "path", "directory": "path"}

# Words that add nothing to the key they follow: --model.lr_rate is --model.lr, --ckpt_path --ckpt.
FILLER = {"rate", "path", "file", "value", "size", "name", "dir", "number", "num"}


def _plain(name: str) -> str:
    return name.lstrip("-").replace("-", "_")


def close_names(given: str, known: Iterable[str], n: int = 2) -> list[str]:
    """The known names (``--model.lr``, ``model.lr``, ``--train-path``) that ``given`` most likely
    meant, best first; empty when none is close enough to suggest.

    A name ``group.key`` is matched within its group when the group exists, and a bare ``key``
    against the keys of every group (``--max_epochs`` -> ``--trainer.max_epochs``). In order: the
    key with common synonyms replaced (``test_file`` -> ``test_path``, ``dropout`` ->
    ``drop_rate``); a key the given one starts with before a filler word (``lr_rate`` -> ``lr``,
    but not ``lr_scheduler``) or that starts with it
    (``drop`` -> ``drop_rate``); keys ending in it (``epochs`` -> ``max_epochs``, ``min_epochs``);
    then spelling (``varient`` -> ``variant``)."""
    names = {_plain(k): k for k in known}
    group, _, key = _plain(given).rpartition(".")

    def split(name: str) -> tuple[str, str]:
        g, _, k = name.rpartition(".")
        return g, k

    pool = [p for p in names if split(p)[0] == group] if group and any(split(p)[0] == group for p in names) \
        else list(names)
    keys: dict[str, list[str]] = {}
    for p in pool:
        keys.setdefault(split(p)[1], []).append(p)

    def found(matches: Iterable[str]) -> list[str]:
        out = [names[p] for k in matches for p in sorted(keys[k], key=len)]
        return list(dict.fromkeys(out))[:n]

    fixed = key
    for word, meant in SYNONYMS.items():
        fixed = re.sub(rf"(?:^|(?<=_)){word}(?=_|$)", meant, fixed)
    words = key.split("_")
    steps = [
        [k for k in (key, fixed) if k in keys and (k != key or not group)],
        [k for k in keys if len(k) >= 2 and any(k == "_".join(words[:i]) and set(words[i:]) <= FILLER
                                                for i in range(1, len(words)))],
        [k for k in keys if k.startswith(key) and k != key
         and (len(key) >= 3 or len(key) == 2 and sum(x.startswith(key) for x in keys) == 1)],
        [k for k in keys if k.endswith("_" + fixed)],
        difflib.get_close_matches(fixed, list(keys), n=n, cutoff=0.8),
    ]
    for matches in steps:
        if matches:
            return found(matches)
    return []


def did_you_mean(message: str, known: Iterable[str]) -> str:
    """Hints for the options an argparse error names (unrecognized or ambiguous), e.g.
    ``--model.varient: did you mean --model.variant?``; empty when there is nothing to suggest."""
    known = [k for k in known if not k.endswith("+")]  # jsonargparse's list-append forms
    given = re.findall(r"(--[\w./-]+)", m.group(1)) if (m := re.search(r"unrecognized arguments: (.*)", message)) \
        else re.findall(r"ambiguous option: (--[\w./-]+)", message)
    hints = []
    for name in given:
        close = close_names(name.split("=")[0], known)
        if close:
            hints.append(f"{name}: did you mean {' or '.join(close)}?")
    return "; ".join(hints)


class HintingArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose error for an unknown option suggests the known one. An
    option must be spelled whole (no abbreviations: ``--epoch`` is an error that names ``--epochs``,
    and an abbreviation cannot change meaning when an option is added)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_args(self, args=None, namespace=None):
        self._given = list(args) if args is not None else None
        return super().parse_args(args, namespace)

    def error(self, message: str):
        known = [o for action in self._actions for o in action.option_strings if o.startswith("--")]
        hint = did_you_mean(message, known)
        given = getattr(self, "_given", None)
        if not hint and given and "arguments are required" in message:
            # a mistyped option is not said when a required one is missing (--inp for --input)
            unknown = [a.split("=")[0] for a in given if a.startswith("--") and a.split("=")[0] not in known]
            hint = did_you_mean(f"unrecognized arguments: {' '.join(unknown)}", known) if unknown else ""
        super().error(f"{message}; {hint}" if hint else message)
