"""`textcnn predict --bundle`: a file streamed through a bundle; bad rows reported, the rest predicted."""
import csv
import json

import pytest

from textcnn import TextClassifier
from textcnn.cli import main
from textcnn.data import DataError
from textcnn.predict import iter_texts, predict_file


def test_csv_with_bad_rows_reports_line_numbers_and_predicts_the_rest(tiny_bundle_dir, tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_bytes(
        b'text,id\n'
        b'a superb film,1\n'
        b'too,many,fields\n'          # line 3: wrong number of fields
        b'"a quoted, funny story",3\n'
        b'\xff\xfe broken bytes,4\n'  # line 5: not UTF-8
        b',6\n'                        # line 6: empty text
        b'dull and boring,7\n'
    )
    out = tmp_path / "out.csv"
    assert main(["predict", "--bundle", str(tiny_bundle_dir), "--input", str(src), "--output", str(out),
                 "--batch-size", "2", "--no-progress"]) == 0
    err = capsys.readouterr().err
    for line in (3, 5, 6):
        assert f"in.csv, line {line}:" in err
    assert "3 row(s) could not be read" in err
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["line", "text", "label", "p_positive", "p_negative"]
    assert [r[:2] for r in rows[1:]] == [["2", "a superb film"], ["4", "a quoted, funny story"], ["7", "dull and boring"]]
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    expected = clf.predict_proba(["a superb film", "a quoted, funny story", "dull and boring"])
    for row, p in zip(rows[1:], expected):
        assert [float(x) for x in row[3:]] == pytest.approx(p.tolist(), abs=1e-6)
        assert row[2] == clf.labels[int(p.argmax())]


def test_jsonl_and_text_in_small_chunks_give_the_same_predictions(tiny_bundle_dir, tmp_path):
    texts = [f"the film was {w} ." for w in ["good", "bad", "dull", "funny", "superb"]] * 5
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    lines = [json.dumps({"text": t}) for t in texts]
    lines[3] = '{"text": broken'
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    errors = []
    plain = predict_file(clf, tmp_path / "in.txt", tmp_path / "a.jsonl", chunk_size=3, progress=False)
    js = predict_file(clf, tmp_path / "in.jsonl", tmp_path / "b.jsonl", chunk_size=7, progress=False,
                      report=errors.append)
    assert plain.predicted == 25 and not plain.errors
    assert js.predicted == 24 and [e.line for e in js.errors] == [4] and "line 4: invalid JSON" in errors[0]
    a = [json.loads(l) for l in (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()]
    b = [json.loads(l) for l in (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in a] == list(range(1, 26)) and a[0]["text"] == texts[0]
    a = [r for r in a if r["line"] != 4]
    assert [(r["line"], r["text"], r["label"]) for r in a] == [(r["line"], r["text"], r["label"]) for r in b]
    for x, y in zip(a, b):
        assert x["probabilities"] == pytest.approx(y["probabilities"], abs=2e-6)


def test_readers_yield_one_row_at_a_time(tmp_path):
    # bounded memory: the reader asks the file for lines only as rows are consumed
    class Counting:
        def __init__(self, lines):
            self.lines, self.read = lines, 0

        def __iter__(self):
            for line in self.lines:
                self.read += 1
                yield line

    f = Counting([f"text number {i}\n".encode() for i in range(10_000)])
    rows = iter_texts(f, "x.txt", "text")
    assert next(rows) == (1, "text number 0") and f.read <= 2


def test_unreadable_header_or_format_stops_with_one_line(tiny_bundle_dir, tmp_path, capsys):
    (tmp_path / "in.csv").write_text("sentence\nhello\n", encoding="utf-8")
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    with pytest.raises(DataError, match=r"in.csv, line 1: no column 'text'.*--text-column"):
        predict_file(clf, tmp_path / "in.csv", tmp_path / "out.csv", progress=False)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.csv.part").exists()
    code = main(["predict", "--bundle", str(tiny_bundle_dir), "--input", str(tmp_path / "in.xyz"),
                 "--output", str(tmp_path / "out.csv")])
    assert code == 2 and "file not found" in capsys.readouterr().err
