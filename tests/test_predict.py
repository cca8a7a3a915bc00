"""`textcnn predict --bundle`: a file streamed through a bundle; every line not predicted is reported,
the rest predicted. Also the input checks of ``TextClassifier``."""
import csv
import gzip
import json
import os

import numpy as np
import pytest

from textcnn import TextClassifier
from textcnn.cli import main
from textcnn.data import DataError, read_examples
from textcnn.predict import RowError, iter_texts, predict_file


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
                 "--batch-size", "2", "--device", "cpu", "--no-progress"]) == 0
    err = capsys.readouterr().err
    for line in (3, 5, 6):
        assert f"in.csv, line {line}:" in err
    assert "3 line(s) were not predicted" in err
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
    lines[5] = "[" * 100_000  # nested past Python's recursion limit: one bad line, not a traceback
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    errors = []
    plain = predict_file(clf, tmp_path / "in.txt", tmp_path / "a.jsonl", chunk_size=3, progress=False)
    js = predict_file(clf, tmp_path / "in.jsonl", tmp_path / "b.jsonl", chunk_size=7, progress=False,
                      report=errors.append)
    assert plain.predicted == 25 and not plain.errors
    assert js.predicted == 23 and [e.line for e in js.errors] == [4, 6] and "line 4: invalid JSON" in errors[0]
    assert "line 6: invalid JSON (nested too deeply)" in errors[1]
    a = [json.loads(l) for l in (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()]
    b = [json.loads(l) for l in (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in a] == list(range(1, 26)) and a[0]["text"] == texts[0]
    a = [r for r in a if r["line"] not in (4, 6)]
    assert [(r["line"], r["text"], r["label"]) for r in a] == [(r["line"], r["text"], r["label"]) for r in b]
    for x, y in zip(a, b):
        assert x["probabilities"] == pytest.approx(y["probabilities"], abs=2e-6)


def test_readers_yield_one_row_at_a_time(tmp_path):
    # bounded memory: the reader asks the file for lines only as rows are consumed
    class Counting:
        def __init__(self, lines):
            self.lines, self.taken = lines, 0

        def __iter__(self):
            for line in self.lines:
                self.taken += 1
                yield line

    f = Counting([f"text number {i}\n".encode() for i in range(10_000)])
    rows = iter_texts(f, "x.txt", "text")
    assert next(rows) == (1, "text number 0") and f.taken <= 2
    # a file is read in blocks: a CR-only file too, which has no \n to end a line at
    path = tmp_path / "cr.txt"
    path.write_bytes(b"".join(f"text number {i}\r".encode() for i in range(100_000)))  # 1.6 MB
    with open(path, "rb") as f:
        rows = iter_texts(f, str(path), "text")
        assert next(rows) == (1, "text number 0") and f.tell() <= 1 << 16
        assert list(rows)[-1] == (100_000, "text number 99999")


def test_unreadable_header_or_format_stops_with_one_line(tiny_bundle_dir, tmp_path, capsys):
    (tmp_path / "in.csv").write_text("sentence\nhello\n", encoding="utf-8")
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    with pytest.raises(DataError, match=r"in.csv, line 1: no column 'text'.*--text-column"):
        predict_file(clf, tmp_path / "in.csv", tmp_path / "out.csv", progress=False)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.csv.part").exists()
    (tmp_path / "utf16.csv").write_text("text\nhello\n", encoding="utf-16")  # not the next row taken as header
    with pytest.raises(DataError, match=r"utf16.csv, line 1: the file is UTF-16 .* `iconv -f utf-16 -t utf-8"):
        predict_file(clf, tmp_path / "utf16.csv", tmp_path / "out.csv", progress=False)
    (tmp_path / "nobom.txt").write_bytes("good\nbad film\n".encode("utf-16-le"))  # not texts of NUL bytes
    with pytest.raises(DataError, match=r"nobom.txt, line 1: .* looks UTF-16 without a byte-order mark"):
        predict_file(clf, tmp_path / "nobom.txt", tmp_path / "out.csv", progress=False)
    (tmp_path / "gz.csv").write_bytes(gzip.compress(b"text\nhello\n"))  # as training says it
    with pytest.raises(DataError, match=r"gz.csv, line 1: the file is gzip-compressed; .* `gunzip -k FILE`"):
        predict_file(clf, tmp_path / "gz.csv", tmp_path / "out.csv", progress=False)
    (tmp_path / "latin.csv").write_bytes("t\xe9xt\nhello\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.csv, line 1: the header is not UTF-8: byte 0xe9 is not valid UTF-8; re-save the file"):
        predict_file(clf, tmp_path / "latin.csv", tmp_path / "out.csv", progress=False)
    # a whole file in another encoding: stopped after 20 lines with the encoding named, not a line per line
    gbk = "".join(f"上海房价第{i}次上涨\n" for i in range(300)).encode("gb18030")
    (tmp_path / "gbk.txt").write_bytes(gbk)
    errors = []
    with pytest.raises(DataError, match=r"gbk.txt: its first 20 data lines are not UTF-8, so the file is most likely "
                                        r"in another encoding: .*Chinese GBK / GB18030: `iconv -f gb18030"):
        predict_file(clf, tmp_path / "gbk.txt", tmp_path / "out.csv", progress=False, report=errors.append)
    assert len(errors) == 20 and not (tmp_path / "out.csv").exists()
    (tmp_path / "gbk5.txt").write_bytes(b"\n".join(gbk.splitlines()[:5]))  # fewer lines: said at the end
    with pytest.raises(DataError, match=r"no texts to predict \(all 5 data lines .*; re-save the file as UTF-8 "
                                        r"\(it reads as Chinese GBK"):
        predict_file(clf, tmp_path / "gbk5.txt", tmp_path / "out.csv", progress=False, report=errors.append)
    code = main(["predict", "--bundle", str(tiny_bundle_dir), "--input", str(tmp_path / "in.xyz"),
                 "--output", str(tmp_path / "out.csv")])
    assert code == 2 and "file not found" in capsys.readouterr().err


def test_the_closing_encoding_hint_names_the_lines_anywhere_in_the_file(tiny_bundle_dir, tmp_path, capsys):
    """A UTF-8 file of over a MiB with two Latin-1 lines at its end: the hint names those lines."""
    line = "un très bon film\n".encode()
    src = tmp_path / "in.csv"
    src.write_bytes(b"text\n" + line * ((1 << 20) // len(line) + 10) + "très mauvais\ncafé\n".encode("latin-1"))
    assert _predict(tiny_bundle_dir, src, tmp_path / "out.csv") == 0
    n = (1 << 20) // len(line) + 10 + 2
    assert (f"several lines are not UTF-8: 2 line(s) are not UTF-8 (line(s) {n}, {n + 1}; they read as Latin-1) while "
            f"{n - 2} other line(s) with non-ASCII text are UTF-8") in capsys.readouterr().err


def test_lone_carriage_returns_end_lines_and_long_texts_are_read_as_in_training(tiny_bundle_dir, tmp_path):
    """A file with CR line ends (old Mac) gives one text a line, not one text; a text longer than the
    csv module's default field limit (128 KiB) is predicted, not called an unclosed quote."""
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    long_text = "a gorgeous movie " * 20_000
    cases = {"cr.txt": b"a gorgeous movie\ran awful mess\rlovely\r", "crcrlf.txt": b"text\r\r\nlovely\r\r\ndull\r\r\n",
             "cr.csv": b'text\ra gorgeous movie\r"an awful, mess"\r',
             "long.csv": f"text\nok\n{long_text}\n".encode(), "long.tsv": f"text\nok\n{long_text}\n".encode()}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        errors = []
        summary = predict_file(clf, tmp_path / name, tmp_path / "out.csv", progress=False, report=errors.append)
        texts, _, lines = read_examples(tmp_path / name, with_labels=False, return_lines=True)
        with open(tmp_path / "out.csv", encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        assert summary.predicted == len(texts) == len(rows), (name, errors)
        assert [(int(r["line"]), r["text"]) for r in rows] == list(zip(lines, texts)), name  # the same lines too
        assert all("blank line" in e for e in errors), errors


def test_texts_spanning_several_lines_are_named_and_a_header_in_another_shape_is_explained(tiny_bundle_dir,
                                                                                            tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text('text\na gorgeous movie\n"Best movie ever\nan awful mess\nmy tv is 55"\nlovely\n', encoding="utf-8")
    assert _predict(tiny_bundle_dir, src, tmp_path / "out.csv") == 0
    out, err = capsys.readouterr()
    assert "3 texts predicted" in out
    assert ("1 of the texts span several lines (starting on line(s) 3), each predicted as one text: a quoted "
            "text with line breaks, or, if that is not meant, a quote (\") not closed on the line it opens") in err
    (tmp_path / "in.jsonl").write_text('{"text": "a gorgeous\\nmovie"}\n', encoding="utf-8")  # an escaped \n
    assert _predict(tiny_bundle_dir, tmp_path / "in.jsonl", tmp_path / "out.csv") == 0
    assert "span several lines" not in capsys.readouterr().err
    (tmp_path / "json.csv").write_text('{"text": "good", "id": 1}\n', encoding="utf-8")
    assert _predict(tiny_bundle_dir, tmp_path / "json.csv", tmp_path / "out.csv") == 2
    assert ("json.csv, line 1: no column 'text' in the header; columns found: ['{\"text\": \"good\"', '\"id\": 1}']. "
            "Rename the column or pass --text-column <name>. It looks like JSON Lines: name the file .jsonl or give "
            "--format jsonl.") in capsys.readouterr().err
    (tmp_path / "compact.csv").write_text('{"id":1,"text":"good"}\n', encoding="utf-8")
    assert _predict(tiny_bundle_dir, tmp_path / "compact.csv", tmp_path / "out.csv") == 2
    assert ("compact.csv, line 1: the header is not read: malformed CSV record: (',' expected after '\"'). It looks "
            "like JSON Lines: name the file .jsonl or give --format jsonl.") in capsys.readouterr().err
    (tmp_path / "quote.csv").write_text('text,"id\ngood,1\n', encoding="utf-8")  # no header, nothing to predict
    assert _predict(tiny_bundle_dir, tmp_path / "quote.csv", tmp_path / "out.csv") == 2
    assert ("quote.csv, line 1: the header is not read: malformed CSV record: a quoted field is never closed"
            in capsys.readouterr().err)
    (tmp_path / "semi.csv").write_text("text;id\ngood;1\n", encoding="utf-8")
    assert _predict(tiny_bundle_dir, tmp_path / "semi.csv", tmp_path / "out.csv") == 2
    assert "The header is separated by semicolons" in capsys.readouterr().err


def _predict(bundle, src, out, *options):
    return main(["predict", "--bundle", str(bundle), "--input", str(src), "--output", str(out), "--no-progress", *options])


def test_unclosed_quote_reports_every_line_it_swallows(tiny_bundle_dir, tmp_path, capsys):
    src = tmp_path / "x.csv"
    src.write_text('text,id\na gorgeous movie,1\n"unclosed quote,3\nan awful mess,4\nlovely,5\n', encoding="utf-8")
    assert _predict(tiny_bundle_dir, src, tmp_path / "out.csv") == 0
    err = capsys.readouterr().err
    assert ("x.csv, line 3: malformed CSV record: a quoted field is never closed (lines 3-5 were read as this one "
            "record, so none of them was predicted); close the quote or double it") in err
    for line in (4, 5):
        assert f"x.csv, line {line}: not predicted: part of the record of lines 3-5 (see line 3)" in err
    assert "3 line(s) were not predicted (blank or unreadable; line(s) 3, 4, 5)" in err  # 1 predicted + 3 = 4 data lines
    assert [r[:2] for r in csv.reader((tmp_path / "out.csv").open(encoding="utf-8"))][1:] == [["2", "a gorgeous movie"]]


def test_every_line_is_predicted_the_header_or_reported(tmp_path):
    data = (b'\n'                                   # 1: blank, before the header
            b'text,id\n'                            # 2: header
            b'a superb film,1\n'                    # 3
            b'"a quoted\nmulti-line text",2\n'      # 4-5: one valid record
            b'\n'                                   # 6: blank
            b'"  ",3\n'                             # 7: empty text
            b'"quote closed\ntoo late"x,4\n'        # 8-9: malformed record
            b'"bad\n\xff bytes",5\n'                # 10-11: a record with a line that is not UTF-8
            b'dull,6\n'                             # 12
            b'"never closed,7\nfunny,8\n')           # 13-14: unclosed to the end of the file
    items = list(iter_texts(iter(data.splitlines(keepends=True)), "x.csv", "csv"))
    texts = {i[0]: i[1] for i in items if not isinstance(i, RowError)}
    errors = {e.line: e.message for e in items if isinstance(e, RowError)}
    assert texts == {3: "a superb film", 4: "a quoted\nmulti-line text", 12: "dull"}
    assert sorted(errors) == [1, 6, 7, 8, 9, 10, 11, 13, 14]  # with the header and line 5, all 14 lines
    assert errors[1] == errors[6] == "blank line; nothing to predict" and errors[7] == "empty text"
    assert "malformed CSV record" in errors[8] and "lines 8-9" in errors[8] and "see line 8" in errors[9]
    assert "record (lines 10-11) is not UTF-8" in errors[10] and errors[11].startswith("byte 0xff is not valid UTF-8")
    assert "never closed (lines 13-14" in errors[13] and "see line 13" in errors[14]


def test_blank_lines_and_empty_texts_are_counted(tiny_bundle_dir, tmp_path, capsys):
    (tmp_path / "one.csv").write_text('text\na gorgeous movie\n\n"  "\nan awful mess\n', encoding="utf-8")
    (tmp_path / "one.tsv").write_text("text\na gorgeous movie\n\n  \nan awful mess\n", encoding="utf-8")
    (tmp_path / "one.txt").write_text("a gorgeous movie\n\n \t \nan awful mess\n", encoding="utf-8")
    (tmp_path / "one.jsonl").write_text('{"text": "a gorgeous movie"}\n\n{"text": " "}\n{"text": "an awful mess"}\n',
                                        encoding="utf-8")
    for name, first in (("one.csv", 3), ("one.tsv", 3), ("one.txt", 2), ("one.jsonl", 2)):
        assert _predict(tiny_bundle_dir, tmp_path / name, tmp_path / f"{name}.out.csv") == 0
        err = capsys.readouterr().err
        assert f"{name}, line {first}: blank line; nothing to predict" in err, name
        assert f"2 line(s) were not predicted (blank or unreadable; line(s) {first}, {first + 1})" in err, name
        assert len(list(csv.reader((tmp_path / f"{name}.out.csv").open(encoding="utf-8")))) == 3, name


def test_texts_with_no_known_token_are_counted_with_their_lines(tiny_bundle_dir, tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("text\na gorgeous movie\nqwzx vbnm\nan awful mess\nzzzq\n", encoding="utf-8")
    assert _predict(tiny_bundle_dir, src, tmp_path / "out.csv") == 0
    err = capsys.readouterr().err
    assert ("2 of the 4 texts have no token the model knows (line(s) 3, 5): each got the model's answer for an "
            "empty text; is the file in the language and script the model was trained on?") in err
    src.write_text("text\na gorgeous movie\nan awful mess\n", encoding="utf-8")
    assert _predict(tiny_bundle_dir, src, tmp_path / "out.csv") == 0
    assert "no token the model knows" not in capsys.readouterr().err


@pytest.mark.parametrize("name, content, why", [
    ("empty.csv", "", "the file is empty"),
    ("empty.txt", "", "the file is empty"),
    ("header.csv", "text,id\n", "the file has a header only"),
    ("bad.csv", 'text,id\n,1\n\n"open,3\n', "all 3 data lines are blank or unreadable"),
    ("blank.txt", "\n  \n", "all 2 data lines are blank or unreadable"),
    ("one.jsonl", '{"text": 5}\n', "its only data line is blank or unreadable"),
], ids=["empty.csv", "empty.txt", "header-only.csv", "all-bad.csv", "blank.txt", "one-bad.jsonl"])
def test_nothing_to_predict_is_an_error_and_leaves_no_output(tiny_bundle_dir, tmp_path, capsys, name, content, why):
    (tmp_path / name).write_text(content, encoding="utf-8")
    out = tmp_path / "new" / "preds.csv"
    assert _predict(tiny_bundle_dir, tmp_path / name, out) == 2
    assert f"textcnn: error: {tmp_path / name}: no texts to predict ({why})" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # no output, no .part, not even the folder made for them


def test_output_that_is_the_input_is_refused_before_any_work(tiny_bundle_dir, tmp_path, capsys, monkeypatch):
    content = "text\na superb film\n"
    src = tmp_path / "in.csv"
    src.write_text(content, encoding="utf-8")
    (tmp_path / "x.csv.part").write_text(content, encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(src)
    (tmp_path / "sub").mkdir()
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    monkeypatch.chdir(tmp_path)
    for out in ("in.csv", src, "sub/../in.csv", "link.csv"):
        with pytest.raises(DataError, match="is the input file.*would destroy the texts. Choose another --output"):
            predict_file(clf, "in.csv", out, progress=False)
    # the predictions go to a new hidden file first, never to a file of the user's such as x.csv.part
    predict_file(clf, "x.csv.part", "x.csv", format="csv", progress=False)
    assert _predict(tiny_bundle_dir, src, src) == 2
    assert f"textcnn: error: {src}: is the input file; writing the predictions there" in capsys.readouterr().err
    assert src.read_text(encoding="utf-8") == (tmp_path / "x.csv.part").read_text(encoding="utf-8") == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "link.csv", "sub", "x.csv", "x.csv.part"]


def test_output_folders_are_created_and_a_folder_is_no_output(tiny_bundle_dir, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("a superb film\n", encoding="utf-8")
    assert _predict(tiny_bundle_dir, src, tmp_path / "new" / "sub" / "preds.csv") == 0
    assert (tmp_path / "new" / "sub" / "preds.csv").is_file()
    capsys.readouterr()
    for out in (tmp_path / "new", f"{tmp_path / 'other'}{os.sep}"):
        assert _predict(tiny_bundle_dir, src, out) == 2
        assert f"{out}: is a folder; expected the path of the predictions file, e.g. " in capsys.readouterr().err
    assert _predict(tiny_bundle_dir, src, src / "preds.csv") == 2
    assert f"{src} is a file, not a folder; choose another output path" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "new"]


def test_batch_size_must_be_positive(tiny_bundle_dir, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("a superb film\n", encoding="utf-8")
    for size in ("0", "-1"):
        assert _predict(tiny_bundle_dir, src, tmp_path / "out.csv", "--batch-size", size) == 2
        err = capsys.readouterr().err
        assert f"textcnn: error: --batch-size must be a positive integer, got {size}" in err
        assert "texts/s" not in err and "%" not in err  # before any progress bar
    assert not (tmp_path / "out.csv").exists()
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got -1"):
        clf.predict_proba(["a superb film", "dull"], batch_size=-1)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        clf.predict(["a superb film"], batch_size=0)


def test_threads_limits_torch_and_predicts_the_same(tiny_bundle_dir, tmp_path, capsys):
    import torch

    src = tmp_path / "in.txt"
    src.write_text("a superb film\ndull and slow\n", encoding="utf-8")
    before = torch.get_num_threads()
    try:
        assert _predict(tiny_bundle_dir, src, tmp_path / "all.csv") == 0
        assert _predict(tiny_bundle_dir, src, tmp_path / "one.csv", "--threads", "1") == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert (tmp_path / "one.csv").read_text(encoding="utf-8") == (tmp_path / "all.csv").read_text(encoding="utf-8")
    capsys.readouterr()
    assert _predict(tiny_bundle_dir, src, tmp_path / "none.csv", "--threads", "0") == 2
    assert "textcnn: error: --threads must be a positive integer, got 0" in capsys.readouterr().err
    assert not (tmp_path / "none.csv").exists()


@pytest.mark.parametrize("texts, message", [
    (None, "texts must be a str or a list of str; got NoneType"),
    (5, "texts must be a str or a list of str; got int"),
    (b"dull", "texts must be a str or a list of str; got bytes (decode it first"),
    ({"text": "dull"}, "texts must be a str or a list of str; got dict"),
    ({"dull"}, "texts must be a str or a list of str; got set (unordered; pass a list"),
    ([None], "texts[0] is NoneType, expected str"),
    (["dull", 5], "texts[1] is int, expected str"),
])
def test_api_refuses_what_is_not_text(tiny_bundle_dir, texts, message):
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(TypeError) as e:
            method(texts)
        assert message in str(e.value)


def test_a_dataframe_is_refused_not_read_as_its_column_names(tiny_bundle_dir):
    pd = pytest.importorskip("pandas")
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    frame = pd.DataFrame({"text": ["a superb film", "dull and boring"]})
    with pytest.raises(TypeError, match=r"got DataFrame \(iterating it gives its column names; pass the column of "
                                        r"texts, e.g. df\['text'\]\)"):
        clf.predict(frame)
    assert clf.predict(frame["text"]) == clf.predict(["a superb film", "dull and boring"])


def test_api_accepts_any_iterable_of_texts_and_explain_wants_a_str(tiny_bundle_dir):
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    texts = ["a superb film", "dull and boring"]
    assert clf.predict(t for t in texts) == clf.predict(tuple(texts)) == clf.predict(texts)
    assert clf.predict_proba([]).shape == (0, 2)
    with pytest.raises(TypeError, match="text must be a str; got list"):
        clf.explain(texts)


def test_a_bundle_folder_that_does_not_exist_is_named(tmp_path, capsys):
    assert _predict(tmp_path / "nope", tmp_path / "in.txt", tmp_path / "out.csv") == 2
    assert f"textcnn: error: {tmp_path / 'nope'}: no such bundle folder" in capsys.readouterr().err


def test_several_lines_in_another_encoding_end_with_how_to_convert_the_file(tiny_bundle_dir, tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_bytes("text\n\u201ca superb film\u201d\nplain words\n\u201cdull\u201d \u2013 bad\n".encode("cp1252"))
    assert _predict(tiny_bundle_dir, src, tmp_path / "out.csv") == 0
    err = capsys.readouterr().err
    assert "2 line(s) were not predicted (blank or unreadable; line(s) 2, 4)" in err
    assert ("several lines are not UTF-8: re-save the file as UTF-8 (it reads as Windows-1252: "
            "`iconv -f cp1252 -t utf-8 IN > OUT`); then predict again") in err


def test_a_long_text_is_not_batched_with_many_short_ones(tiny_bundle_dir):
    from textcnn.api import TextClassifier
    from textcnn.bundle import TOKENS_PER_ROW

    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    short = [[2, 3, 4]] * 300
    long = [list(range(2, 12)) * 1000]  # 10,000 tokens
    batches = list(clf.padded_batches(short + long + short, batch_size=64))
    assert sorted(r for rows, _ in batches for r in rows) == list(range(601))  # each text once
    for rows, tokens in batches:
        assert len(rows) <= 64 and (tokens.size <= 64 * TOKENS_PER_ROW or len(rows) == 1)
    assert [len(rows) for rows, tokens in batches if tokens.shape[1] == 10_000] == [1]  # alone
    assert sum(len(rows) for rows, tokens in batches if tokens.shape[1] == max(3, clf.min_len)) == 600  # as before
    texts = ["good film"] * 100 + [" ".join(["good"] * 20_000)]
    np.testing.assert_allclose(clf.predict_proba(texts, batch_size=64)[-1], clf.predict_proba(texts[-1])[0], atol=1e-6)


def test_standard_input_and_output_pipes_and_links(tiny_bundle_dir, tmp_path):
    import subprocess
    import sys
    import threading

    cmd = [sys.executable, "-m", "textcnn.cli", "predict", "--bundle", str(tiny_bundle_dir), "--no-progress"]
    piped = subprocess.run([*cmd, "--input", "-", "--output", "-"], input="a good film\n\nbad plot\n",
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr[-2000:]
    rows = list(csv.reader(piped.stdout.splitlines()))
    assert [r[:2] for r in rows] == [["line", "text"], ["1", "a good film"], ["3", "bad plot"]]  # CSV, nothing else
    assert "standard input, line 2: " in piped.stderr and "written to standard output" in piped.stderr
    jsonl = subprocess.run([*cmd, "--input", "/dev/stdin", "--output", "/dev/stdout", "--output-format", "jsonl"],
                           input="a good film\n", capture_output=True, text=True, timeout=120)
    assert json.loads(jsonl.stdout)["text"] == "a good film"
    empty = subprocess.run([*cmd[:-1], "--input", "-", "--output", "-"], input="", capture_output=True, text=True,
                           timeout=120)  # with the progress bar, which has no size to count to
    assert empty.returncode == 2 and empty.stdout == "" and "standard input: no texts to predict" in empty.stderr

    src = tmp_path / "in.txt"
    src.write_text("a good film\nbad plot\n", encoding="utf-8")
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    # a link: its target gets the predictions, the link stays
    (tmp_path / "real.csv").write_text("old\n", encoding="utf-8")
    (tmp_path / "link.csv").symlink_to("real.csv")
    predict_file(clf, src, tmp_path / "link.csv", progress=False)
    assert (tmp_path / "link.csv").is_symlink() and (tmp_path / "real.csv").read_text().startswith("line,text")
    # a named pipe: written as it is read, not replaced by a file
    fifo = tmp_path / "preds.csv"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    predict_file(clf, src, fifo, progress=False)
    reader.join(timeout=60)
    assert not fifo.is_file() and got and got[0].count("\n") == 3


def test_a_text_column_named_twice_is_refused(tiny_bundle_dir, tmp_path):
    src = tmp_path / "dup.csv"
    src.write_text("text,text\nfine film,awful\n", encoding="utf-8")
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    with pytest.raises(DataError, match=r"dup.csv, line 1: the header names the column 'text' more than once"):
        predict_file(clf, src, tmp_path / "out.csv", progress=False)
    assert not (tmp_path / "out.csv").exists()


def test_input_columns_can_be_kept_beside_the_predictions(tiny_bundle_dir, tmp_path):
    # an id and the true label go with each prediction, so that the output can be joined or scored
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    (tmp_path / "in.csv").write_text('id,text,label\n7,a superb film,pos\n\n8,"dull, dull",neg\n', encoding="utf-8")
    summary = predict_file(clf, tmp_path / "in.csv", tmp_path / "out.csv", progress=False, report=lambda m: None,
                           keep_columns=["id", "label"])
    rows = list(csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8", newline="")))
    assert summary.predicted == 2 and list(rows[0])[:5] == ["line", "id", "input_label", "text", "label"]
    assert [(r["line"], r["id"], r["input_label"], r["text"]) for r in rows] == [
        ("2", "7", "pos", "a superb film"), ("4", "8", "neg", "dull, dull")]
    (tmp_path / "in.jsonl").write_text('{"id": 7, "text": "a superb film", "tags": ["a"]}\n{"text": "dull"}\n',
                                       encoding="utf-8")
    predict_file(clf, tmp_path / "in.jsonl", tmp_path / "out.jsonl", progress=False, keep_columns=["id", "tags"])
    records = [json.loads(l) for l in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["tags"]) for r in records] == [(7, ["a"]), (None, None)]  # JSON values as they are
    predict_file(clf, tmp_path / "in.jsonl", tmp_path / "out2.csv", progress=False, keep_columns=["id", "tags"])
    assert [(r["id"], r["tags"]) for r in csv.DictReader(open(tmp_path / "out2.csv", encoding="utf-8"))] == [
        ("7", '["a"]'), ("", "")]
    with pytest.raises(DataError, match=r"in.csv, line 1: --keep-columns: no column 'idx' in the header; columns "
                                        r"found: \['id', 'text', 'label'\]"):
        predict_file(clf, tmp_path / "in.csv", tmp_path / "o.csv", progress=False, keep_columns=["idx"])
    (tmp_path / "in.txt").write_text("good\n", encoding="utf-8")
    with pytest.raises(DataError, match="--keep-columns needs a CSV, TSV or JSONL input"):
        predict_file(clf, tmp_path / "in.txt", tmp_path / "o.csv", progress=False, keep_columns=["id"])
    assert not (tmp_path / "o.csv").exists()
    assert main(["predict", "--bundle", str(tiny_bundle_dir), "--input", str(tmp_path / "in.csv"), "--output",
                 str(tmp_path / "cli.csv"), "--keep-columns", "id", "--no-progress"]) == 0
    assert (tmp_path / "cli.csv").read_text(encoding="utf-8").startswith("line,id,text,label,")


def test_each_run_writes_through_its_own_temporary_and_a_file_named_like_one_is_left_alone(tiny_bundle_dir, tmp_path):
    # A second run writing the same output while the first is half-way (started from inside the
    # first's prediction): each has its own hidden temporary, so both succeed and the output is
    # one run's whole file, never a splice; the user's own out.csv.part is never touched.
    src, other = tmp_path / "in.txt", tmp_path / "other.txt"
    src.write_text("a good film\n" * 30, encoding="utf-8")
    other.write_text("a dull film\n" * 5, encoding="utf-8")
    out, mine = tmp_path / "out.csv", tmp_path / "out.csv.part"
    mine.write_text("the user's own file\n", encoding="utf-8")
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")

    class Racing:
        def __init__(self):
            self.labels, self.vocab, self.encode, self.raced = clf.labels, clf.vocab, clf.encode, False

        def proba_of_ids(self, ids, batch_size):
            if not self.raced:
                self.raced = True
                assert predict_file(clf, other, out, progress=False).predicted == 5
                assert [r[1] for r in csv.reader(out.open(encoding="utf-8"))][1:] == ["a dull film"] * 5
            return clf.proba_of_ids(ids, batch_size=batch_size)

    assert predict_file(Racing(), src, out, chunk_size=10, progress=False).predicted == 30
    assert [r[1] for r in csv.reader(out.open(encoding="utf-8"))] == ["text"] + ["a good film"] * 30
    assert mine.read_text(encoding="utf-8") == "the user's own file\n"
    # a failed run removes its own temporary only
    (tmp_path / "blank.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="no texts to predict"):
        predict_file(clf, tmp_path / "blank.txt", out, progress=False)
    assert mine.read_text(encoding="utf-8") == "the user's own file\n" and out.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.txt", "in.txt", "other.txt", "out.csv", "out.csv.part"]


def test_an_output_written_again_keeps_its_permissions(tiny_bundle_dir, tmp_path):
    from textcnn.fileio import current_umask

    src, out = tmp_path / "in.txt", tmp_path / "out.csv"
    src.write_text("a good film\n", encoding="utf-8")
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    predict_file(clf, src, out, progress=False)
    assert out.stat().st_mode & 0o777 == 0o666 & ~current_umask()  # a new file: as `open` makes one
    out.chmod(0o600)
    predict_file(clf, src, out, progress=False)
    assert out.stat().st_mode & 0o777 == 0o600


def test_a_full_disk_or_a_read_only_folder_names_the_output_given(tiny_bundle_dir, tmp_path, monkeypatch, capsys):
    import errno
    import tempfile

    import textcnn.predict

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("a good film\n", encoding="utf-8")
    (tmp_path / "out.csv").write_text("old\n", encoding="utf-8")
    args = ["predict", "--bundle", str(tiny_bundle_dir), "--input", "in.txt", "--output", "out.csv", "--no-progress"]

    def full(self, rows, probs):  # a full disk: an OSError naming no file
        raise OSError(errno.ENOSPC, "No space left on device")
    with monkeypatch.context() as patch:
        patch.setattr(textcnn.predict._Writer, "write", full)
        assert main(args) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "textcnn: error: out.csv: No space left on device" and "Traceback" not in err

    def read_only(*args, prefix, suffix, dir):  # what mkstemp meets on a read-only file system
        raise OSError(errno.EROFS, "Read-only file system", os.path.join(dir, f"{prefix}x{suffix}"))
    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", read_only)
        assert main(args) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "textcnn: error: out.csv: Read-only file system"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.csv"]
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == "old\n"


def test_standard_output_that_is_full_is_one_line_naming_it(tiny_bundle_dir, tmp_path):
    import subprocess
    import sys

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    (tmp_path / "in.txt").write_text("a good film\n" * 3000, encoding="utf-8")  # more than a buffer
    with open("/dev/full", "w") as full:
        run = subprocess.run([sys.executable, "-m", "textcnn.cli", "predict", "--bundle", str(tiny_bundle_dir),
                              "--input", str(tmp_path / "in.txt"), "--output", "-", "--no-progress"],
                             stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert run.returncode == 2, run.stderr[-2000:]
    assert run.stderr.strip().splitlines() == ["textcnn: error: standard output: No space left on device"]
