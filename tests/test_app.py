"""The Gradio demo (app.py): handlers called directly, a real server on 127.0.0.1 through
gradio_client, and a real headless Chromium typing a sentence and reading the page."""
import csv
import importlib.util
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio", reason="the demo tests need the demo extra: pip install -e '.[demo]'")

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SENTENCE = "a superb and funny film"
# WCAG 2 contrast ratio of each highlighted word's text against what is painted under it (its
# translucent background over the backgrounds of its ancestors), as the browser computed them.
CONTRAST_JS = r"""
() => {
  const parse = s => { const m = s.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(',').map(parseFloat); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  const lum = c => { const f = v => (v /= 255) <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const under = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    return layers.reduceRight((acc, c) => over(c, acc), [255, 255, 255, 1]); };
  return [...document.querySelectorAll('#highlights *')].filter(e => !e.children.length && e.textContent.trim())
    .map(e => { const bg = under(e); return [e.textContent, ratio(over(parse(getComputedStyle(e).color), bg), bg)]; });
}
"""


@pytest.fixture(scope="module")
def app(tiny_bundle_dir, tmp_path_factory):
    """app.py loaded as a module over a checkpoints folder holding the tiny bundle."""
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    shutil.copytree(tiny_bundle_dir, checkpoints / "tiny-sentiment")
    old = os.environ.get("TEXTCNN_CHECKPOINTS")
    os.environ["TEXTCNN_CHECKPOINTS"] = str(checkpoints)
    try:
        spec = importlib.util.spec_from_file_location("textcnn_demo_app", REPO / "app.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        os.environ.pop("TEXTCNN_CHECKPOINTS") if old is None else os.environ.__setitem__("TEXTCNN_CHECKPOINTS", old)
    yield module
    module.demo.close()


@pytest.fixture(scope="module")
def server(app):
    """The demo served on a free port of 127.0.0.1; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.LAUNCH)
    yield f"http://127.0.0.1:{port}/"
    app.demo.close()


def test_classify_handler_gives_probabilities_and_highlights(app):
    probs, spans, note = app.classify("tiny-sentiment", f"  {SENTENCE}  ")
    assert set(probs) == {"positive", "negative"} and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert "".join(t for t, _ in spans) == SENTENCE  # the text as typed, cut at its tokens
    assert [t for t, s in spans if s is not None] == SENTENCE.split() and note == ""
    scores = [abs(s) for _, s in spans if s is not None]  # the strongest at HIGHLIGHT_MAX, for contrast
    assert max(scores) == pytest.approx(app.HIGHLIGHT_MAX) and all(s <= app.HIGHLIGHT_MAX + 1e-9 for s in scores)
    probs, spans, note = app.classify("tiny-sentiment", "A Superb, qzxv film!")
    assert "".join(t for t, _ in spans) == "A Superb, qzxv film!"
    assert [t for t, s in spans if s is not None] == ["A", "Superb", ",", "qzxv", "film", "!"]
    assert note.startswith("Not in the model's vocabulary") and "`qzxv`" in note and "`film`" not in note


def test_a_new_model_answers_for_the_text_shown_and_text_it_cannot_read_is_said(app):
    assert app.reclassify("tiny-sentiment", "  ") == (None, None, "")  # nothing shown stays from another model
    assert app.reclassify("tiny-sentiment", SENTENCE) == app.classify("tiny-sentiment", SENTENCE)
    probs, spans, note = app.classify("tiny-sentiment", "qzxv wxyq")
    assert note.startswith("**None of these words is in this model's vocabulary, so the label is a guess.**")
    assert "`qzxv`, `wxyq`" in note and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)


def test_empty_and_over_long_input_get_a_clear_message(app, monkeypatch):
    for empty in ("", "   \n", None):
        with pytest.raises(gr.Error, match="type or paste a text"):
            app.classify("tiny-sentiment", empty)
    probs, spans, note = app.classify("tiny-sentiment", "@#$% ~~")  # no token survives: still an answer
    assert spans == [("@#$% ~~", None)] and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert "no word the model reads" in note and "a guess" in note  # not a confident-looking label alone
    with pytest.raises(gr.Error, match="type or paste a text"):
        app.classify("tiny-sentiment", "\u200b\ufeff ")  # only invisible characters: empty too
    monkeypatch.setattr(app, "MAX_CHARS", 20)
    with pytest.raises(gr.Error, match="the limit is 20"):
        app.classify("tiny-sentiment", "good " * 10)
    with pytest.raises(gr.Error, match="upload"):
        app.classify_file("tiny-sentiment", None)


def test_batch_handler_returns_a_csv_and_reports_bad_rows(app, tmp_path):
    src = tmp_path / "texts.csv"
    src.write_text("text,x\na superb film,1\nbad,row,3\ndull,4\n", encoding="utf-8")
    out, note = app.classify_file("tiny-sentiment", str(src))
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [r["text"] for r in rows] == ["a superb film", "dull"]
    assert "2 text(s) predicted with tiny" in note and "1 line(s) were not predicted" in note and "line 3" in note
    # the file's own text is shown as text, not as a link or HTML; texts with no known word are named
    src = tmp_path / "texts.jsonl"
    src.write_text('{"text": "a superb film"}\n{"text": "qzxv wxyq"}\n{"t": "[click](http://x.example/) <b>b</b>"}\n',
                   encoding="utf-8")
    out, note = app.classify_file("tiny-sentiment", str(src))
    assert "1 of them have no word the model knows** (line(s) 2)" in note
    assert "\\[click\\]\\(http://x.example/\\)" in note and "\\<b\\>" in note and "<b>" not in note
    bad = tmp_path / "texts.bin"
    bad.write_text("x", encoding="utf-8")
    with pytest.raises(gr.Error, match="cannot tell the input format"):
        app.classify_file("tiny-sentiment", str(bad))


def test_server_answers_through_gradio_client(app, server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    label, highlights, note = client.predict("tiny-sentiment", SENTENCE, api_name="/classify")
    expected = app.MODELS["tiny-sentiment"].predict(SENTENCE)[0]
    assert label["label"] == expected.label
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert confidences == pytest.approx(expected.probabilities, abs=1e-6)
    assert "".join(t["token"] for t in highlights) == SENTENCE and note == ""
    assert [t["token"] for t in highlights if t["class_or_confidence"] is not None] == SENTENCE.split()
    with pytest.raises(Exception, match="type or paste a text"):
        client.predict("tiny-sentiment", "", api_name="/classify")


def test_batch_outputs_are_removed_once_answered_and_a_failed_request_leaves_none(app, server, tmp_path, monkeypatch):
    from gradio_client import Client, handle_file

    monkeypatch.setattr(app, "OUTPUT_GRACE_S", 0.0)
    outputs = Path(app.OUTPUTS.name)
    src = tmp_path / "texts.csv"
    src.write_text("text\na superb film\ndull\n", encoding="utf-8")
    client = Client(server, verbose=False)
    for _ in range(3):
        path, note = client.predict("tiny-sentiment", handle_file(str(src)), api_name="/classify_file")
        assert [r["text"] for r in csv.DictReader(open(path, encoding="utf-8"))] == ["a superb film", "dull"]
        assert "2 text(s) predicted" in note
        assert len(list(outputs.iterdir())) == 1  # this request's folder; the ones before it are gone
    bad = tmp_path / "no-text.csv"
    bad.write_text("review,x\ngood,1\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"no-text.csv, line 1: no column 'text' .* Rename the column to 'text'$"):
        client.predict("tiny-sentiment", handle_file(str(bad)), api_name="/classify_file")
    assert list(outputs.iterdir()) == []  # the last answered folder removed, the failed one left nothing


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM}: install the Debian package `chromium`")
def test_headless_chromium_types_a_sentence_and_reads_label_and_highlights(app, server, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    expected = app.MODELS["tiny-sentiment"].predict(SENTENCE)[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        try:
            contrast = {}
            for theme in ("light", "dark"):
                page = browser.new_page(viewport={"width": 1100, "height": 1000})
                page.goto(f"{server}?__theme={theme}", wait_until="domcontentloaded", timeout=30_000)
                page.locator("#text-input textarea").fill(SENTENCE)
                page.locator("#classify").click()
                label = page.locator("#label")
                label.get_by_text(expected.label).first.wait_for(timeout=30_000)
                highlights = page.locator("#highlights")
                highlights.get_by_text("superb").first.wait_for(timeout=30_000)
                label_text, highlight_text = label.inner_text(), highlights.inner_text()
                contrast[theme] = page.evaluate(CONTRAST_JS)
                if theme == "light":
                    shot = Path(os.environ.get("TEXTCNN_SCREENSHOT", tmp_path / "demo.png"))
                    page.screenshot(path=str(shot), full_page=True)
                page.close()
        finally:
            browser.close()
    assert expected.label in label_text and "%" in label_text
    for word in SENTENCE.split():
        assert word in highlight_text
    assert shot.stat().st_size > 10_000
    for theme, words in contrast.items():  # every word readable (WCAG AA: 4.5:1), the strongest included
        assert sorted(w for w, _ in words) == sorted(SENTENCE.split()), (theme, words)
        assert min(r for _, r in words) >= 4.5, (theme, words)


def test_a_model_switch_with_a_text_the_new_model_refuses_clears_the_old_answer(app, monkeypatch):
    monkeypatch.setattr(app, "MAX_CHARS", 20)
    label, highlights, note = app.reclassify("tiny-sentiment", "good " * 10)
    assert (label, highlights) == (None, None) and "the limit is 20" in note


def test_demo_settings_and_broken_bundles_are_named_at_start(tiny_bundle_dir, tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "models"
    shutil.copytree(tiny_bundle_dir, folder / "good")
    (folder / "broken").mkdir()
    (folder / "broken" / "textcnn.json").write_text("{", encoding="utf-8")
    script = "import runpy, sys; sys.argv = ['app.py']; runpy.run_path(sys.argv[1], run_name='not_main')"
    env = {**os.environ, "TEXTCNN_CHECKPOINTS": str(folder)}
    loaded = subprocess.run([sys.executable, "-c", script.replace("sys.argv[1]", repr(str(REPO / "app.py")))],
                            capture_output=True, text=True, timeout=180, env=env)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert "left out broken: " in loaded.stderr  # the good bundle is still served
    one = subprocess.run([sys.executable, "-c", script.replace("sys.argv[1]", repr(str(REPO / "app.py")))
                          .replace("runpy.run_path", "print(sorted(runpy.run_path") + "['MODELS']))"],
                         capture_output=True, text=True, timeout=180, env={**env, "TEXTCNN_CHECKPOINTS": str(folder / "good")})
    assert one.returncode == 0 and one.stdout.splitlines()[-1] == "['good']", one.stderr[-2000:]  # one bundle, not a folder of them
    bad = subprocess.run([sys.executable, str(REPO / "app.py")], capture_output=True, text=True, timeout=180,
                         env={**env, "TEXTCNN_MAX_CHARS": "abc"})
    assert bad.returncode == 1 and "TEXTCNN_MAX_CHARS='abc': expected a positive whole number" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_an_upload_over_the_size_limit_is_refused(app, server, tmp_path, monkeypatch):
    from gradio_client import Client, handle_file

    assert app.LAUNCH["max_file_size"] == f"{app.MAX_UPLOAD_MB}mb" == "20mb"
    big = tmp_path / "big.txt"
    big.write_text("a superb film\n" * 1_600_000, encoding="utf-8")  # 22.4 MB
    with pytest.raises(Exception, match="exceeds the maximum file size of 20971520 bytes"):
        Client(server, verbose=False).predict("tiny-sentiment", handle_file(str(big)), api_name="/classify_file")


def test_the_batch_tab_caps_each_text_as_the_text_tab_does(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "MAX_CHARS", 20)
    src = tmp_path / "texts.txt"
    src.write_text("a superb film\n" + "good " * 10 + "\ndull\n", encoding="utf-8")
    out, note = app.classify_file("tiny-sentiment", str(src))
    assert [r["text"] for r in csv.DictReader(open(out, encoding="utf-8"))] == ["a superb film", "dull"]
    assert "1 line(s) were not predicted: texts.txt, line 2: a text of 49 characters; the limit is 20" in note


def test_the_bundled_demo_serves_its_endpoints_by_name_and_sigterm_stops_it_cleanly(tmp_path):
    """app.py as shipped (the bundled models and their examples): the public endpoints keep the
    names the README and benchmarks/load_test.py use; refused input prints no traceback; SIGTERM
    stops it as Ctrl+C does, leaving no output folder behind."""
    import signal
    import subprocess
    import sys

    from gradio_client import Client

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "TEXTCNN_CHECKPOINTS"}
    env.update(TEXTCNN_PORT=str(port), TMPDIR=str(scratch))
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    try:
        seen = []
        for line in proc.stdout:  # Gradio prints the URL once the server answers
            seen.append(line)
            if "Running on local URL" in line:
                break
        assert [p.name for p in scratch.glob("textcnn-demo-*")], "".join(seen)  # the Batch tab's outputs
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        # the examples' own handler (private) must not take the name /classify
        assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {
            "/classify", "/classify_file"}
        label, _, _ = client.predict(text="a gorgeous, witty film", api_name="/classify")  # as load_test.py calls it
        assert label["label"] == "positive"
        with pytest.raises(Exception, match="type or paste a text"):  # said on the page, no traceback in the log
            client.predict(text="", api_name="/classify")
        time.sleep(2)  # Gradio's start-up checks end (a signal during them is answered too)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    out = "".join(seen) + out
    assert proc.returncode == 0 and "Traceback" not in out and "closing server" in out.lower(), out
    assert not list(scratch.glob("textcnn-demo-*"))
