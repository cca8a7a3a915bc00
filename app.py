"""Gradio demo: a thin skin over ``textcnn.api``. Type a text, see the label, the probability of
every label and the words that drove the decision; or upload a file and download predictions.

    python app.py            # http://127.0.0.1:7860 (TEXTCNN_HOST / TEXTCNN_PORT to change)
    python app.py --help     # the options, those of `textcnn demo` (which runs this file)
"""
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls

if __name__ == "__main__" and len(sys.argv) > 1:  # options (--help, --port ...): `textcnn demo`'s, before any model loads
    from textcnn.cli import main

    sys.exit(main(["demo", *sys.argv[1:]]))

try:
    import gradio as gr
except ModuleNotFoundError as e:
    if e.name != "gradio":
        raise
    raise SystemExit('app.py needs gradio: pip install -e ".[demo]" (or pip install "gradio>=6.0")') from None

from textcnn.api import TextClassifier
from textcnn.bundle import BundleError
from textcnn.data import _shown
from textcnn.predict import predict_file
from textcnn.text import _INVISIBLE

CHECKPOINTS = Path(os.environ.get("TEXTCNN_CHECKPOINTS", Path(__file__).resolve().parent / "checkpoints"))


def _setting(name: str, default: str) -> int:
    """A positive whole number from the environment variable ``name``, or a one-line exit naming it."""
    value = os.environ.get(name, default)
    if not value.strip().isdigit() or int(value) < 1:
        raise SystemExit(f"{name}={value!r}: expected a positive whole number (default {default})")
    return int(value)


MAX_CHARS = _setting("TEXTCNN_MAX_CHARS", "2000")
MAX_UPLOAD_MB = _setting("TEXTCNN_MAX_UPLOAD_MB", "20")  # the Batch tab's largest file (Gradio refuses bigger)
# gr.HighlightedText paints a score s as red (s > 0) or purple (s < 0) at opacity |s| under the
# theme's text colour; above about 0.8 that is under WCAG AA's 4.5:1 contrast in the light or
# dark theme, so the strongest word is shown at this opacity and the others in proportion.
HIGHLIGHT_MAX = 0.75
EXAMPLES = {  # per bundle folder name; a bundle not listed here simply has no examples
    "mr-multichannel-glove50": [
        "A gorgeous, witty, seductive movie.",
        "The plot is thin and the acting is wooden; I was bored from start to finish.",
        "Not the best film of the year, but a charming and sincere one.",
    ],
    "thucnews-nonstatic-char200": [
        "国足主帅公布世界杯预选赛大名单",
        "苹果发布新款iPhone，搭载自研芯片",
        "教育部：今年高考报名人数再创新高",
        "北京楼市成交量环比上涨三成",
    ],
}



def _load_models() -> dict[str, TextClassifier]:
    """The bundles of CHECKPOINTS (or CHECKPOINTS itself, one bundle), loaded once when the app
    starts; a broken one is named and left out, so that the others are still served."""
    models, broken = {}, []
    if (CHECKPOINTS / "textcnn.json").is_file():
        paths = [CHECKPOINTS]
    else:
        paths = sorted(CHECKPOINTS.iterdir()) if CHECKPOINTS.is_dir() else []
    for path in paths:
        if (path / "textcnn.json").is_file():
            try:
                models[path.name] = TextClassifier.load(path, device="cpu")
            except (BundleError, OSError) as e:
                broken.append(f"{path.name}: {e}")
    for problem in broken:
        print(f"TextCNN demo: left out {problem}", file=sys.stderr)
    if not models:
        raise SystemExit(f"{CHECKPOINTS}: no model bundle could be loaded (folders with textcnn.json"
                         + (f"; {len(broken)} broken, named above" if broken else "")
                         + "); set TEXTCNN_CHECKPOINTS or create one with `textcnn export`")
    return models


MODELS = _load_models()


def _describe(name: str, clf: TextClassifier) -> str:
    """The dropdown's entry for a model: its folder name and labels."""
    shown = ", ".join(clf.labels[:6]) + (f", ... ({len(clf.labels)} labels)" if len(clf.labels) > 6 else "")
    return f"{name}: {shown}"


def _refused(message: str) -> gr.Error:
    """The page's error for input it cannot take: shown to the user, not printed with a traceback
    in the server's terminal (where it would read as a crash)."""
    return gr.Error(message, print_exception=False)


def check_text(text: str) -> str:
    """The stripped text, or a gr.Error with what to do when it is empty or too long."""
    text = (text or "").strip()
    if not _INVISIBLE.sub("", text).strip():  # nothing, or only zero-width characters
        raise _refused("Please type or paste a text to classify.")
    if len(text) > MAX_CHARS:
        raise _refused(f"The text has {len(text):,} characters; the limit is {MAX_CHARS:,}. Shorten it, "
                       "or use the Batch tab for many texts.")
    return text


def classify(model_name: str, text: str):
    """Label probabilities for gr.Label, the text with its tokens' scores for gr.HighlightedText,
    and a note naming the words the model does not know."""
    clf = MODELS[model_name]
    text = check_text(text)
    if clf.model.pool.mode != "max":
        return clf.predict(text)[0].probabilities, [(f"(highlights need max pooling; this model uses "
                                                     f"{clf.model.pool.mode})", None)], ""
    explanation = clf.explain(text)
    unknown = [t.replace("`", "'") for t in explanation.unknown]
    note = ("Not in the model's vocabulary (each read as the same unknown-word vector): "
            + ", ".join(f"`{t}`" for t in unknown[:20]) + (" ..." if len(unknown) > 20 else "")) if unknown else ""
    if explanation.tokens and not any(explanation.known):
        note = (f"**None of these words is in this model's vocabulary, so the label is a guess.** Is the text in "
                f"the model's language? {note}")
    if not explanation.tokens:
        note = ("**This text has no word the model reads (only symbols, emoji or punctuation), so the label is "
                "the model's answer for an empty text: a guess.**")
    shown = [(piece, None if s is None else s * HIGHLIGHT_MAX) for piece, s in explanation.segments()]
    return explanation.probabilities, shown, note


def classify_example(model_name: str, text: str):
    """``classify`` for a click on an example. A function of its own, as Gradio names an event
    after its function: the name /classify stays the Classify button's (the public endpoint)."""
    return classify(model_name, text)


def reclassify(model_name: str, text: str):
    """After the user picks another model: the new model's answer for the text shown, or empty
    outputs with the reason when there is none (so that no answer of the previous model stays)."""
    if not _INVISIBLE.sub("", text or "").strip():
        return None, None, ""
    try:
        return classify(model_name, text)
    except gr.Error as e:
        return None, None, f"**{e.message}**"


def _md(text: str) -> str:
    """``text`` (from an uploaded file) shown as it is in Markdown: no links, emphasis or HTML."""
    return re.sub(r"([\\`*_{}\[\]()#+!|<>~-])", r"\\\1", text)


# Batch outputs. Gradio copies a returned file into its own cache (trimmed by delete_cache
# below), so ours is needed only until the answer is sent: outputs live in one folder that goes
# when the app exits, and each request removes those answered over OUTPUT_GRACE_S seconds ago.
OUTPUTS = tempfile.TemporaryDirectory(prefix="textcnn-demo-")
OUTPUT_GRACE_S = 60.0
_answered: dict[Path, float] = {}  # output folder -> when its request returned
_answered_lock = threading.Lock()


def _output_folder() -> Path:
    """A fresh folder for one request's output, after removing old answered ones."""
    now = time.monotonic()
    with _answered_lock:
        for folder, when in list(_answered.items()):
            if now - when >= OUTPUT_GRACE_S:
                shutil.rmtree(folder, ignore_errors=True)
                del _answered[folder]
    return Path(tempfile.mkdtemp(dir=OUTPUTS.name))


def classify_file(model_name: str, path: str):
    """Predictions of an uploaded CSV / TSV / JSONL / TXT file, as a CSV to download."""
    if not path:
        raise _refused("Please upload a CSV (with a 'text' column), JSONL or TXT (one text a line) file.")
    folder = _output_folder()
    out = folder / f"{Path(path).stem}-predictions.csv"
    errors = []
    try:
        summary = predict_file(MODELS[model_name], path, out, progress=False, report=errors.append,
                               max_chars=MAX_CHARS)  # as in the Text tab: `textcnn predict --bundle` has no cap
    except BaseException as e:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(e, ValueError):  # DataError: unreadable format or header, message names the file
            lines = (" " + "; ".join(_for_the_page(m, path) for m in errors[:3])) if errors else ""
            raise _refused(_for_the_page(str(e), path) + lines) from None
        raise
    with _answered_lock:
        _answered[folder] = time.monotonic()
    note = f"{summary.predicted} text(s) predicted with {_md(model_name)}."
    if summary.unknown_lines:
        note += (f" **{len(summary.unknown_lines)} of them have no word the model knows** (line(s) "
                 f"{_shown(summary.unknown_lines)}): each got "
                 "the model's answer for an empty text. Is the file in the model's language?")
    if errors:
        note += (f" {len(errors)} line(s) were not predicted: "
                 + "; ".join(_md(_for_the_page(e, path)) for e in errors[:5]))
    return str(out), note


def _for_the_page(message: str, path: str) -> str:
    """A predict_file message as the page shows it: the upload's name, not its server path, and
    the page's remedy for a missing column instead of the command line's."""
    message = (message.replace(str(path), Path(path).name)
               .replace("Rename the column or pass --text-column <name>", "Rename the column to 'text'"))
    return re.sub(r" or give --format \w+", "", message)  # the page reads a file by its extension


# Gradio's own copies of uploads and outputs: every hour, those over an hour old are deleted.
with gr.Blocks(title="TextCNN", delete_cache=(3600, 3600)) as demo:
    gr.Markdown("# TextCNN (Kim 2014)\nThe label, the probability of every label, and the words whose "
                "convolution windows won the max-pooling, coloured by how much they pushed towards the "
                "predicted label (red: towards it, purple: against it).")
    model = gr.Dropdown(choices=[(_describe(name, clf), name) for name, clf in MODELS.items()],
                        value=next(iter(MODELS)), label="Model")
    with gr.Tab("Text"):
        text = gr.Textbox(label="Text", lines=3, elem_id="text-input",
                          placeholder="Type or paste a sentence; Shift+Enter or the button classifies it")
        button = gr.Button("Classify", variant="primary", elem_id="classify")
        label = gr.Label(label="Prediction", num_top_classes=10, elem_id="label")
        highlights = gr.HighlightedText(label="Words that drove the decision", elem_id="highlights",
                                        combine_adjacent=False, show_legend=False)
        unknown = gr.Markdown(elem_id="unknown")
        examples = [[name, t] for name in MODELS for t in EXAMPLES.get(name, [])]
        if examples:  # a click classifies the example with its own model (not the text shown before it)
            gr.Examples(examples, inputs=[model, text], outputs=[label, highlights, unknown], fn=classify_example,
                        run_on_click=True, cache_examples=False, label="Examples (model, text)",
                        api_visibility="private")
        # the latest click runs once the one in progress ends (Gradio's "once" would drop it)
        gr.on([button.click, text.submit], classify, inputs=[model, text], outputs=[label, highlights, unknown],
              api_name="classify", trigger_mode="always_last")
        # .input: the user's choice only, not an example setting the model (which classifies itself)
        model.input(reclassify, inputs=[model, text], outputs=[label, highlights, unknown], api_visibility="private")
    with gr.Tab("Batch"):
        upload = gr.File(label=f"CSV (column 'text'), TSV, JSONL or TXT (one text a line), up to {MAX_UPLOAD_MB} MB",
                         type="filepath",
                         file_types=[".csv", ".tsv", ".jsonl", ".txt"])
        run = gr.Button("Predict file", variant="primary")
        result = gr.File(label="Predictions (CSV)")
        note = gr.Markdown()
        run.click(classify_file, inputs=[model, upload], outputs=[result, note], api_name="classify_file")
        # a new file or model: the previous predictions go, so that none is taken for the new one's
        gr.on([upload.change, model.change], lambda: (None, ""), outputs=[result, note], api_visibility="private")

demo.queue(default_concurrency_limit=2, max_size=64)  # bounded concurrency and waiting line
LAUNCH = {"max_file_size": f"{MAX_UPLOAD_MB}mb"}  # demo.launch's settings besides the address

if __name__ == "__main__":
    host, port = os.environ.get("TEXTCNN_HOST", "127.0.0.1"), _setting("TEXTCNN_PORT", "7860")
    if host in ("0.0.0.0", "::"):  # every interface: a browser elsewhere needs this machine's name
        import socket

        where = f"http://{socket.gethostname()}:{port} (or this machine's address; served on every interface)"
    else:
        where = f"http://{host}:{port}"
    print(f"TextCNN demo: open {where} in a browser (Ctrl+C stops it)")
    import signal

    def _stop(signum, frame):  # `kill`, systemd, docker stop: stop as Ctrl+C does, so that the
        raise KeyboardInterrupt  # server closes and OUTPUTS is removed (the default would leave it)

    signal.signal(signal.SIGTERM, _stop)
    try:
        demo.launch(server_name=host, server_port=port, **LAUNCH)
    except KeyboardInterrupt:  # before Gradio's own wait for Ctrl+C began (it closes the server then)
        demo.close()
        print("Stopped before the server was ready.", file=sys.stderr)
    except OSError as e:  # Gradio's advice (GRADIO_SERVER_PORT, server_port=) is not this app's
        raise SystemExit(f"TextCNN demo: cannot serve on {host}:{port} ({e}); is another server using it? "
                         "Pick another with --port (or TEXTCNN_PORT)") from None
