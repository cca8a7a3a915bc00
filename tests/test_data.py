"""File readers, label sets, splits and folds: textcnn/data.py."""

import json
import unicodedata
import warnings
from collections import Counter

import pytest

from textcnn.data import (
    FORMATS,
    DataError,
    TextDataModule,
    check_labels,
    kfold_split,
    label_names,
    read_examples,
    stratified_split,
)


def write(tmp_path, name, content):
    """Write ``content`` (str as UTF-8, or bytes) to ``tmp_path/name``; return the path."""
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def read_error(path, **kwargs) -> str:
    """The DataError message ``read_examples(path, **kwargs)`` raises."""
    with pytest.raises(DataError) as info:
        read_examples(path, **kwargs)
    return str(info.value)


# --- formats --------------------------------------------------------------------------------


def test_csv_quoted_fields_and_stripping(tmp_path):
    path = write(tmp_path, "d.csv", 'id,text,label\n1,"good, really ""good""",1\n2,  bad film  , 0 \n')
    assert read_examples(path) == (['good, really "good"', "bad film"], ["1", "0"])


def test_csv_custom_columns_bom_and_crlf(tmp_path):
    path = write(tmp_path, "d.csv", "\ufeffsentence,y\r\nfine,pos\r\nawful,neg\r\n")
    assert read_examples(path, text_column="sentence", label_column="y") == (["fine", "awful"], ["pos", "neg"])


def test_csv_multiline_quoted_field_and_line_numbers(tmp_path):
    path = write(tmp_path, "d.csv", 'text,label\n"line one\nline two",1\n\nthird,0\n')
    texts, labels, lines = read_examples(path, return_lines=True)
    assert texts == ["line one\nline two", "third"]
    assert lines == [2, 5]


def test_tsv_has_no_quoting(tmp_path):
    path = write(tmp_path, "d.tsv", 'sentence\tlabel\n"quoted" start\t1\nplain, text\t0\n')
    assert read_examples(path, text_column="sentence") == (['"quoted" start', "plain, text"], ["1", "0"])


def test_jsonl_labels_become_strings(tmp_path):
    path = write(tmp_path, "d.jsonl", '{"text": "a", "label": 1}\n\n{"text": "b ", "label": 0.0}\n{"text": "c", "label": "x"}\n')
    assert read_examples(path) == (["a", "b", "c"], ["1", "0", "x"])
    assert read_examples(write(tmp_path, "d.ndjson", '{"text": "a", "label": 1}\n')) == (["a"], ["1"])


def test_label_text_lines(tmp_path):
    path = write(tmp_path, "rt.txt", "1 a gorgeous film .\n0   dull , dull\tdull\n\n")
    texts, labels, lines = read_examples(path, format="label_text", return_lines=True)
    assert (texts, labels, lines) == (["a gorgeous film .", "dull , dull\tdull"], ["1", "0"], [1, 2])


def test_text_label_lines(tmp_path):
    path = write(tmp_path, "d.txt", "a gorgeous film\t1\nso bad\t 0\n")
    assert read_examples(path, format="text_label") == (["a gorgeous film", "so bad"], ["1", "0"])


def test_auto_format_is_case_insensitive(tmp_path):
    assert read_examples(write(tmp_path, "D.CSV", "text,label\na,1\n")) == (["a"], ["1"])


def test_unknown_extension_asks_for_format(tmp_path):
    message = read_error(write(tmp_path, "d.dat", "1 a\n"))
    assert "d.dat" in message and "format=" in message and "label_text" in message
    assert "decompress it first" in read_error(write(tmp_path, "d.csv.gz", b"\x1f\x8b"))
    assert "Excel's `sep=` line: delete it" in read_error(write(tmp_path, "x.csv", "sep=,\ntext,label\na,1\n"))
    assert "jq -c '.[]'" in read_error(write(tmp_path, "d.json", '[{"text": "a", "label": 1}]'))
    message = read_error(write(tmp_path, "a.jsonl", '[{"text": "a", "label": 1},\n{"text": "b", "label": 0}]'))
    assert "a.jsonl, line 1: invalid JSON" in message and "looks like one JSON array" in message
    with pytest.raises(ValueError, match="unknown data format"):
        read_examples(write(tmp_path, "d.csv", "text,label\na,1\n"), format="xml")
    assert FORMATS[0] == "auto"


def test_without_labels(tmp_path):
    csv_path = write(tmp_path, "p.csv", "text\nfirst\nsecond\n")
    assert read_examples(csv_path, with_labels=False) == (["first", "second"], None)
    jsonl_path = write(tmp_path, "p.jsonl", '{"text": "x"}\n')
    assert read_examples(jsonl_path, with_labels=False) == (["x"], None)
    plain = write(tmp_path, "p.txt", "just a sentence\nwith tab\tignored\n")
    assert read_examples(plain, format="text_label", with_labels=False) == (["just a sentence", "with tab"], None)
    # a .txt file is one text a line, tabs and all; it has no labels
    assert read_examples(plain, with_labels=False) == (["just a sentence", "with tab\tignored"], None)
    assert "p.txt: a .txt file is read as one text a line, without labels" in read_error(plain)


def test_a_space_before_a_quoted_text_is_named_as_the_cause(tmp_path):
    # the csv module opens a quoted field only at the field's first character; a file that reads
    # literally (`pos, "great" movie`) keeps reading so, and one that breaks says why
    path = write(tmp_path, "ok.csv", 'label,text\npos, "great" movie\nneg,  dull\n')
    assert read_examples(path) == (['"great" movie', "dull"], ["pos", "neg"])
    message = read_error(write(tmp_path, "d.csv", 'label,text\npos, "a witty, seductive film"\n'))
    assert "d.csv, line 2: expected 2 fields like the header ['label', 'text'], found 3; a space after a comma " in message
    # a label quoted after a space keeps its quotes: a class of its own, pointed out
    with pytest.warns(UserWarning, match=r"""q.csv: label\(s\) \['"pos"'\] keep their quotes: a space after the comma"""):
        assert read_examples(write(tmp_path, "q.csv", 'text,label\ngood, "pos"\nbad,neg\n'))[1] == ['"pos"', "neg"]


def test_text_after_a_closing_quote_is_named_as_such(tmp_path):
    # strict CSV: `"Avatar" is great` closes its quote and goes on, which is not an unclosed quote
    message = read_error(write(tmp_path, "a.csv", 'text,label\ngood,pos\n"Avatar" is great,pos\n'))
    assert "a.csv, line 3: malformed CSV record" in message
    assert "text after the closing quote is not allowed" in message and "never closed" not in message


def test_the_text_and_the_label_from_one_column_is_refused(tmp_path):
    path = write(tmp_path, "d.csv", "text,label\na,1\n")
    assert "the text and the label are both read from 'label'" in read_error(path, text_column="label")


# --- errors ----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    message = read_error(tmp_path / "nope.csv")
    assert "nope.csv" in message and "not found" in message


def test_missing_columns_name_the_columns_found(tmp_path):
    path = write(tmp_path, "d.csv", "sentence,label\na,1\n")
    message = read_error(path)
    assert "d.csv, line 1" in message and "'text'" in message and "['sentence', 'label']" in message
    message = read_error(path, text_column="sentence", label_column="y")
    assert "'y'" in message and "label_column" in message


def test_missing_label_names_the_line(tmp_path):
    assert "d.csv, line 3: missing label" in read_error(write(tmp_path, "d.csv", "text,label\na,1\nb, \n"))
    path = write(tmp_path, "d.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": null}\n')
    assert "d.jsonl, line 2: missing label" in read_error(path)
    path = write(tmp_path, "d.txt", "a\t1\nb\t\n")
    assert "d.txt, line 2: missing label" in read_error(path, format="text_label")


def test_not_utf8_names_the_line_and_the_encoding_it_reads_as(tmp_path):
    path = write(tmp_path, "d.csv", "text,label\na,1\ncaf\xe9,0\n".encode("latin-1"))
    message = read_error(path)
    assert "d.csv, line 3" in message and "UTF-8" in message and "`iconv -f latin1 -t utf-8 IN > OUT`" in message
    quotes = write(tmp_path, "q.csv", "text,label\n\u201cgreat\u201d \u2013 truly,1\n".encode("cp1252"))
    assert "it reads as Windows-1252: `iconv -f cp1252 -t utf-8 IN > OUT`" in read_error(quotes)
    chinese = write(tmp_path, "zh.csv", "text,label\n国足主帅公布大名单,体育\n苹果发布新款手机,科技\n".encode("gbk"))
    assert "it reads as Chinese GBK / GB18030: `iconv -f gb18030 -t utf-8 IN > OUT`" in read_error(chinese)
    # an accented letter next to an ASCII one is also half of a GBK character: Latin-1 is not called Chinese
    for text in ("un film très émouvant", "c'était nul, déçu", "Ärger über Öl", "año español"):
        latin = write(tmp_path, "l1.csv", f"text,label\n{text},pos\n{text} 2,neg\n".encode("latin-1"))
        assert "if it is Latin-1: `iconv -f latin1 -t utf-8 IN > OUT`" in read_error(latin), text


def test_a_gbk_file_with_a_line_that_is_utf8_by_chance_is_sent_to_iconv(tmp_path):
    # '图说' in GBK is the bytes CD BC CB B5, also valid UTF-8: one such line does not make the file mixed
    raw = "text,label\n图说,finance\n中文电影很好,film\n这部电影很好看,film\n".encode("gb18030")
    assert "re-save the file as UTF-8 (it reads as Chinese GBK / GB18030: `iconv -f gb18030" in read_error(
        write(tmp_path, "g.csv", raw))


def test_a_utf8_file_with_a_few_lines_in_another_encoding_is_not_sent_to_iconv_whole(tmp_path):
    """Converting the whole file would garble its UTF-8 lines: the message names the lines to fix."""
    raw = ("text,label\n" + "这部电影很好,pos\n" * 5).encode() + "déçu,neg\n".encode("cp1252") + b"good,pos\n"
    message = read_error(write(tmp_path, "mixed.csv", raw))
    assert "mixed.csv, line 7: byte 0xe9" in message and "iconv" not in message
    assert ("1 line(s) are not UTF-8 (line(s) 7; they read as Latin-1) while 5 other line(s) with non-ASCII "
            "text are UTF-8, so converting the whole file would garble those") in message


@pytest.mark.parametrize(
    "content",
    [
        'text,label\na,1\n"never closed,1\nb,0\nc,1\n',  # runs to the end of the file
        'text,label\na,1\n"closed much later,1\nb,0\n"c",1\n',  # closed by the next quote
    ],
)
def test_csv_unclosed_quote_names_the_opening_line(tmp_path, content):
    message = read_error(write(tmp_path, "d.csv", content))
    assert "d.csv, line 3" in message and "quote" in message


def test_csv_wrong_field_count(tmp_path):
    message = read_error(write(tmp_path, "d.csv", "text,label\na,1\nb, c,0\n"))
    assert "d.csv, line 3" in message and "expected 2 fields" in message


def test_invalid_jsonl(tmp_path):
    assert "d.jsonl, line 2: invalid JSON" in read_error(write(tmp_path, "d.jsonl", '{"text": "a", "label": 1}\n{"text": \n'))
    assert "line 1: invalid JSON (Unterminated string starting at column 10);" in read_error(
        write(tmp_path, "d.jsonl", '{"text": "a film\n'))  # json's message ends in "at"
    assert "line 1: expected a JSON object" in read_error(write(tmp_path, "d.jsonl", "[1, 2]\n"))
    message = read_error(write(tmp_path, "d.jsonl", '{"sentence": "a", "label": 1}\n'))
    assert "line 1: no key 'text'" in message and "['label', 'sentence']" in message


def test_label_text_line_without_space(tmp_path):
    message = read_error(write(tmp_path, "d.txt", "1 good\n0\n"), format="label_text")
    assert "d.txt, line 2" in message and "space" in message


def test_text_label_line_without_tab(tmp_path):
    message = read_error(write(tmp_path, "d.txt", "good\t1\nno tab here 0\n"), format="text_label")
    assert "d.txt, line 2" in message and "tab" in message


@pytest.mark.parametrize("content", ["", "text,label\n", "text,label\n\n\n"])
def test_empty_data_set(tmp_path, content):
    message = read_error(write(tmp_path, "d.csv", content))
    assert "d.csv" in message and "no examples" in message


def test_all_texts_empty_warns_then_fails(tmp_path):
    with pytest.warns(UserWarning, match="skipped 2"):
        message = read_error(write(tmp_path, "d.csv", 'text,label\n" ",1\n,0\n'))
    assert "all 2 texts are empty" in message


def test_empty_texts_are_skipped_with_one_warning(tmp_path):
    path = write(tmp_path, "d.csv", 'text,label\na,1\n"  ",0\nb,1\n,0\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        texts, labels, lines = read_examples(path, return_lines=True)
    assert (texts, labels, lines) == (["a", "b"], ["1", "1"], [2, 4])
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "d.csv" in message and "skipped 2" in message and "3, 5" in message


def test_data_error_keeps_path_and_line(tmp_path):
    with pytest.raises(DataError) as info:
        read_examples(write(tmp_path, "d.txt", "1 good\nbad\n"), format="label_text")
    assert info.value.path.endswith("d.txt") and info.value.line == 2
    assert isinstance(info.value, ValueError)


# --- labels ----------------------------------------------------------------------------------


def test_check_labels_names_unseen_label_file_and_line(tmp_path):
    path = write(tmp_path, "val.csv", "text,label\na,pos\nb,neg\nc,meh\nd,meh\n")
    texts, labels, lines = read_examples(path, return_lines=True)
    check_labels(["pos", "neg"], ["neg", "pos"], path, lines)  # known labels pass
    with pytest.raises(DataError) as info:
        check_labels(labels, ["neg", "pos"], path, lines)
    message = str(info.value)
    assert "val.csv, line 4" in message and "'meh'" in message and "'neg', 'pos'" in message
    with pytest.raises(DataError, match="val.csv: example 3: label 'meh'"):
        check_labels(labels, ["neg", "pos"], path)


def test_label_written_another_way_names_the_training_label(tmp_path):
    """A JSONL number 1.0 is read as '1'; a dev CSV writing 1.0 is refused, naming the training label."""
    rows = "".join(json.dumps({"text": f"text number {i}", "label": float(i % 2)}) + "\n" for i in range(20))
    train = write(tmp_path, "train.jsonl", rows)
    dev = write(tmp_path, "dev.csv", "text,label\na text,1.0\nanother,0.0\n")
    with pytest.raises(DataError) as info:
        TextDataModule(train_path=str(train), val_path=str(dev), test_fraction=0).prepare()
    message = str(info.value)
    assert "dev.csv, line 2" in message and "label '1.0' does not occur in the training labels ['0', '1']" in message
    assert "write '1.0' as '1', '0.0' as '0' in" in message
    with pytest.raises(DataError, match="'Pos' as 'pos' in .*val.csv"):
        check_labels(["Pos"], ["neg", "pos"], "val.csv")
    with pytest.raises(DataError, match="'meh' does not occur .*; fix the label or add training examples of it"):
        check_labels(["meh"], ["neg", "pos"], "val.csv")


def test_label_names_order():
    assert label_names(["10", "2", "1", "2", "-1"]) == ["-1", "1", "2", "10"]
    assert label_names(["pos", "neg", "pos", "1"]) == ["pos", "neg", "1"]
    assert label_names([]) == []


# --- splits ----------------------------------------------------------------------------------


def test_stratified_split_proportions_and_determinism():
    labels = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    kept, held = stratified_split(labels, 0.2, seed=1)
    assert sorted(kept + held) == list(range(100))
    assert Counter(labels[i] for i in held) == {"a": 10, "b": 6, "c": 4}
    assert stratified_split(labels, 0.2, seed=1) == (kept, held)
    assert stratified_split(labels, 0.2, seed=2) != (kept, held)
    with pytest.raises(ValueError, match="fraction"):
        stratified_split(labels, 1.0, seed=1)


def test_stratified_split_keeps_a_single_example_class_on_the_training_side():
    labels = ["a"] * 9 + ["b"] * 6 + ["c"]
    with pytest.warns(UserWarning, match=r"1 class\(es\) have a single example \['c'\]: kept on the training side"):
        kept, held = stratified_split(labels, 1 / 3, seed=0)
    assert sorted(kept + held) == list(range(16)) and 15 in kept
    assert Counter(labels[i] for i in held) == {"a": 3, "b": 2}  # the others still stratified


def test_a_split_too_small_to_stratify_keeps_every_class_on_the_training_side():
    # 22 classes of 3: 20% held out is 14 examples, fewer than the classes; a plain random split
    # held out all 3 examples of some class, which training then never saw
    labels = [f"c{k}" for k in range(22) for _ in range(3)]
    for seed in range(20):
        with pytest.warns(UserWarning, match=r"held-out split is not stratified \(each class keeps at least one"):
            kept, held = stratified_split(labels, 0.2, seed=seed)
        assert sorted(kept + held) == list(range(66)) and len(held) == 14
        assert {labels[i] for i in kept} == set(labels)
    assert stratified_split(labels, 0.2, seed=3) == stratified_split(labels, 0.2, seed=3)
    with pytest.warns(UserWarning, match="not stratified"):  # too few kept for one of each: as many as can be
        kept, held = stratified_split(["a", "b", "c"] * 2, 0.9, seed=0)
    assert sorted(["a", "b", "c"][i % 3] for i in kept) == ["a", "b", "c"] and len(held) == 3


def test_the_dev_split_after_a_test_split_says_its_counts_are_of_what_is_left(tmp_path):
    import warnings

    from textcnn.data import TextDataModule

    # 3 examples of "rare": the test part takes one or more, so the dev split may see a single one
    rows = [f"good film {i},pos" for i in range(30)] + [f"bad film {i},neg" for i in range(30)]
    rows += ["odd film 1,rare", "odd film 2,rare", "odd film 3,rare"]
    path = write(tmp_path, "t.csv", "text,label\n" + "\n".join(rows) + "\n")
    for seed in range(10):
        dm = TextDataModule(train_path=str(path), val_fraction=0.2, test_fraction=0.5, split_seed=seed, min_len=1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dm.prepare()
        single = [str(w.message) for w in caught if "single example" in str(w.message)]
        if single:
            assert single[0].startswith(f"{path}: of what the test part leaves, 1 class(es) have a single example "
                                        "['rare']"), single
            break
    else:
        raise AssertionError("no seed left a single 'rare' example after the test split")


def test_kfold_partitions_every_index_once():
    labels = ["a"] * 12 + ["b"] * 8
    tests = []
    for fold in range(4):
        train, test = kfold_split(labels, 4, fold, seed=3)
        assert sorted(train + test) == list(range(20))
        assert Counter(labels[i] for i in test) == {"a": 3, "b": 2}
        tests += test
    assert sorted(tests) == list(range(20))
    assert kfold_split(labels, 4, 1, seed=3) == kfold_split(labels, 4, 1, seed=3)


def test_kfold_with_a_class_smaller_than_the_folds_warns_once_in_its_own_words(monkeypatch):
    import warnings

    import textcnn.data as data

    monkeypatch.setattr(data, "_WARNED_SMALL_CLASSES", set())
    labels = ["pos"] * 12 + ["neg"] * 3 + ["odd"] * 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tests = [kfold_split(labels, 5, fold, seed=0)[1] for fold in range(5)]
    messages = [str(w.message) for w in caught]
    assert messages == ["2 class(es) have fewer examples than the 5 folds ('odd' 2, 'neg' 3): some held-out folds "
                        "hold none of them; at most 2 folds put every class in every fold"]  # not sklearn's, not per fold
    assert sorted(i for t in tests for i in t) == list(range(17))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kfold_split(labels + ["one"], 5, 0, seed=0)
    assert [str(w.message) for w in caught] == [
        "3 class(es) have fewer examples than the 5 folds ('one' 1, 'odd' 2, 'neg' 3): some held-out folds hold none "
        "of them; the fold that tests the only example of 'one' trains without it"]


def test_kfold_validates_fold():
    with pytest.raises(ValueError, match="fold must be in"):
        kfold_split(["a", "b"] * 5, 5, 5, seed=0)
    with pytest.raises(ValueError, match="num_folds"):
        kfold_split(["a", "b"] * 5, 1, 0, seed=0)


def test_a_blank_row_of_a_one_column_file_is_an_empty_text_and_counted(tmp_path):
    # with a single column, a blank field is the whole row: it must not vanish like a blank line
    path = write(tmp_path, "t.csv", 'text\na gorgeous movie\n\n"  "\nan awful mess\n')
    with pytest.warns(UserWarning, match=r"skipped 2 example\(s\) with an empty text \(line\(s\) 3, 4\)"):
        assert read_examples(path, with_labels=False) == (["a gorgeous movie", "an awful mess"], None)
    # with two columns a blank line is only a blank line
    path = write(tmp_path, "d.csv", "text,label\ngood,1\n\nbad,0\n")
    assert read_examples(path) == (["good", "bad"], ["1", "0"])


def test_a_label_column_of_ids_or_labels_differing_in_case_are_pointed_out(tmp_path):
    from textcnn.data import TextDataModule

    rows = "".join(f"a film about item {i},{i}\n" for i in range(60))
    path = write(tmp_path, "ids.csv", "text,label\n" + rows)
    with pytest.warns(UserWarning, match=r"ids.csv: 60 labels for 60 examples \(column 'label'\): is that the label column"), \
            pytest.raises(ValueError, match="cannot hold out a part: 60 of the 60 examples are the only one of their class"):
        TextDataModule(train_path=str(path), val_fraction=0.2, test_fraction=0.2).prepare()
    with pytest.raises(DataError, match=r"ids.csv: cannot hold out a part: .* \(--data.test_fraction 0.2\): add "
                                        r"examples, or give the part as a file of its own \(--data.test_path\)"):
        TextDataModule(train_path=str(path), val_fraction=0.2, test_fraction=0.2).prepare()
    rows = "".join(f"text number {i},{['billing', 'Billing', 'account'][i % 3]}\n" for i in range(30))
    path = write(tmp_path, "case.csv", "text,label\n" + rows)
    with pytest.warns(UserWarning, match=r"labels that differ only in case, width or how a number is "
                                         r"written \(01, 1.0\) are separate classes: \['billing', 'Billing'\]"):
        TextDataModule(train_path=str(path), val_fraction=0.2, test_fraction=0.2).prepare()
    rows = "".join(f"text number {i},{['1', '01', '2'][i % 3]}\n" for i in range(30))
    path = write(tmp_path, "zeros.csv", "text,label\n" + rows)
    with pytest.warns(UserWarning, match=r"\(01, 1.0\) are separate classes: \['1', '01'\]"):
        TextDataModule(train_path=str(path), val_fraction=0.2, test_fraction=0.2).prepare()


def test_texts_with_no_token_once_tokenized_are_counted(tmp_path):
    from textcnn.data import TextDataModule

    rows = "".join(f"a film number {i},{'pos' if i % 2 else 'neg'}\n" for i in range(30))
    path = write(tmp_path, "emoji.csv", "text,label\n" + rows + "\U0001f642\U0001f642,pos\n...,neg\n")
    with pytest.warns(UserWarning, match=r"emoji.csv: 2 train text\(s\) have no token once tokenized, e.g. "
                                         r"'\U0001f642\U0001f642'; each is read as an empty text"):
        TextDataModule(train_path=str(path), val_fraction=0.0).prepare()


def test_very_long_texts_and_chinese_cut_by_the_word_tokenizer_are_pointed_out(tmp_path):
    from textcnn.data import TextDataModule

    rows = "".join(f"a short review number {i},{'pos' if i % 2 else 'neg'}\n" for i in range(40))
    path = write(tmp_path, "long.csv", "text,label\n" + rows + "word " * 3000 + ",pos\n")
    # by default cut to 1,000 tokens, and counted (a batch pads to its longest text: one pasted
    # book of 200,000 words once took all the memory of the machine)
    with pytest.warns(UserWarning, match=r"long.csv: 1 (train|val|test) text\(s\) longer than --data.max_len 1000 "
                                         r"tokens are cut to their first 1000 \(the longest has 3000\); "
                                         r"--data.max_len N sets another limit, null none"):
        dm = TextDataModule(train_path=str(path), val_fraction=0.2, test_fraction=0.2)
        dm.prepare()
    assert max(len(x) for split in dm.splits.values() for x in split.ids) == 1000
    with pytest.warns(UserWarning, match=r"long.csv: the longest training text has 3000 tokens, the median 5; .* "
                                         r"take memory in proportion: --data.max_len N keeps the first N tokens"):
        TextDataModule(train_path=str(path), val_fraction=0.2, test_fraction=0.2, max_len=None,
                       split_seed=1).prepare()  # a seed that keeps the long text in the training split
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no text over the limit: no warning
        TextDataModule(train_path=str(path), val_fraction=0.2, test_fraction=0.2, max_len=3000).prepare()
    titles = "".join(f"国足主帅公布大名单{i},体育\n苹果发布新款手机{i},科技\n" for i in range(20))
    path = write(tmp_path, "zh.csv", "text,label\n" + titles)
    with pytest.warns(UserWarning, match=r"zh.csv: 100% of the word tokens are runs of Chinese characters .* "
                                         "--data.tokenizer char"):
        TextDataModule(train_path=str(path), val_fraction=0.2, test_fraction=0.2).prepare()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TextDataModule(train_path=str(path), val_fraction=0.2, test_fraction=0.2, tokenizer="char").prepare()


def test_repeated_texts_conflicting_labels_and_test_texts_seen_in_training_are_counted(tmp_path, caplog):
    from textcnn.data import TextDataModule

    rows = "".join(f"review number {i} of the film,{'pos' if i % 2 else 'neg'}\n" for i in range(40))
    train = write(tmp_path, "train.csv", "text,label\n" + rows + "Review number 3 of the film,pos\n"
                  + "a fine film,pos\na fine film,neg\n")
    test = write(tmp_path, "test.csv", "text,label\nreview number 1 of the film,pos\nreview number 2 of the film,neg\n"
                 + "".join(f"an unseen review {i},pos\n" for i in range(8)))
    caplog.set_level("INFO", logger="textcnn")
    with pytest.warns(UserWarning) as caught:
        TextDataModule(train_path=str(train), test_path=str(test), val_fraction=0.0).prepare()
    said = [str(w.message) for w in caught]
    assert any("1 training text(s) occur with different labels, e.g. 'a fine film' as 'neg' and 'pos'" in m
               for m in said), said
    assert any("2 of the 10 test texts (20%) also occur in training, so the test score overstates" in m
               for m in said), said
    assert "2 training texts repeat an earlier one; 2 of 10 test texts also occur in training" in caplog.text
    clean = write(tmp_path, "clean.csv", "text,label\n" + rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no repeats: nothing said
        TextDataModule(train_path=str(clean), val_fraction=0.2, test_fraction=0.2).prepare()


def test_a_rare_label_spelled_like_a_frequent_one_is_pointed_out_as_a_typo(tmp_path):
    from textcnn.data import TextDataModule

    rows = "".join(f"ticket {i} about money,{'billing' if i % 2 else 'shipping'}\n" for i in range(40))
    path = write(tmp_path, "t.csv", "text,label\n" + rows + "charged twice,biling\nparcel late,shiping\n")
    with pytest.warns(UserWarning) as caught:
        TextDataModule(train_path=str(path), val_fraction=0.0).prepare()
    said = [str(w.message) for w in caught]
    assert any("label 'biling' (1 example(s), line(s) 42) looks like a typo of 'billing' (20 examples)" in m
               for m in said), said
    assert any("label 'shiping' (1 example(s), line(s) 43) looks like a typo of 'shipping'" in m for m in said)
    # labels that are codes: 12 rare ones like frequent ones, said in one warning, not one each
    codes = "".join(f"case {i},c{i % 4}\n" for i in range(60)) + "".join(f"rare {k},c{k}1\n" for k in range(12))
    path = write(tmp_path, "codes.csv", "text,label\n" + codes)
    with pytest.warns(UserWarning) as caught:
        TextDataModule(train_path=str(path), val_fraction=0.0).prepare()
    typos = [str(w.message) for w in caught if "spelled almost like" in str(w.message) or "typo of" in str(w.message)]
    assert len(typos) == 1 and "10 rare labels are spelled almost like frequent ones: 'c01' (1) like 'c1' (15), 'c11' (1)" in typos[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TextDataModule(train_path=str(write(tmp_path, "ok.csv", "text,label\n" + rows)), val_fraction=0.0).prepare()


def test_rows_that_would_be_lost_or_merged_silently_are_counted(tmp_path):
    """A stray quote merges rows, a repeated header (files joined) would become a class and a row of
    blank fields used to vanish: each is read as before but named in a warning with its lines."""
    rows = [f"film {i},{'pos' if i % 2 else 'neg'}" for i in range(8)]
    rows[2], rows[5] = '"Best movie ever,pos', 'my new tv is 55",neg'
    path = write(tmp_path, "merged.csv", "text,label\n" + "\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match=r"merged.csv: 1 record\(s\) span several lines and hold lines that read "
                                         r"as rows of their own, each record read as one text \(first: lines 4-7\): "
                                         r"most likely a quote \(\"\) opened on line 4"):
        texts, labels = read_examples(path)
    assert len(texts) == 5 and texts[2].startswith("Best movie ever,pos\nfilm 3") and labels[2] == "neg"
    # the same in a middle column: the lines inside read as rows of the header's width
    rows = [f"{i},film {i},{'pos' if i % 2 else 'neg'}" for i in range(8)]
    rows[2], rows[5] = '2,"Best movie ever,pos', '5,my new tv is 55",neg'
    with pytest.warns(UserWarning, match="merged.csv: 1 record"):
        read_examples(write(tmp_path, "merged.csv", "id,text,label\n" + "\n".join(rows) + "\n"))
    # two lines merged, with the text in the last or a middle column: the line of the stray quote
    # or the one after it reads as a row of its own
    for name, content in (("last.csv", 'label,text\nneg,a\nneg,"Best movie ever\npos,my new tv is 55"\npos,b\n'),
                          ("middle.csv", 'id,text,label\n1,a,pos\n2,"Best movie ever,neg\n3,my tv is 55",pos\n4,b,neg\n')):
        with pytest.warns(UserWarning, match=f"{name}: 1 record\\(s\\) span several lines and hold lines"):
            assert len(read_examples(write(tmp_path, name, content))[0]) == 3
    # quoted texts with line breaks of their own are read without a warning, run after run, even
    # with a line inside that has a comma (its end is not a label of the file)
    path = write(tmp_path, "poems.csv", 'text,label\n"roses are red,\nviolets blue",poem\n"to do:\n'
                                        'milk, eggs\nbread",list\nplain,list\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_examples(path) == (["roses are red,\nviolets blue", "to do:\nmilk, eggs\nbread", "plain"],
                                       ["poem", "list", "list"])
        for name, content in (("lt.csv", 'label,text\npoem,"roses are red,\nviolets, blue"\nlist,plain\n'),
                              ("itl.csv", 'id,text,label\n1,"roses are red,\nviolets, blue",poem\n2,"to do:\nmilk, eggs\n'
                                          'bread",list\n"3,x",plain,list\n')):
            read_examples(write(tmp_path, name, content))
        read_examples(write(tmp_path, "it.csv", 'id,text\n1,"roses are red,\nviolets blue"\n'), with_labels=False)

    path = write(tmp_path, "joined.csv", "text,label\ngood,1\nbad,0\n\ufefftext,label\nfine,1\n , \n")
    with pytest.warns(UserWarning) as caught:
        assert read_examples(path) == (["good", "bad", "fine"], ["1", "0", "1"])
    said = " | ".join(str(w.message) for w in caught)
    assert "skipped 1 line(s) that repeat the header (line(s) 4): files joined with their headers?" in said
    assert "skipped 1 example(s) with an empty text (line(s) 6)" in said
    # a one-column file's text may be the header's word; a column no one reads may be named twice
    assert read_examples(write(tmp_path, "one.csv", "text\ngood\ntext\n"), with_labels=False)[0] == ["good", "text"]
    path = write(tmp_path, "notes.csv", "id,text,label,note,note\n1,good,pos,a,b\n")
    assert read_examples(path) == (["good"], ["pos"])


@pytest.mark.parametrize("name, content, expected", [
    ("dup.csv", "text,label,text\na,1,b\n", "line 1: the header names the column(s) ['text'] more than once"),
    ("semi.csv", "text;label\na;1\n", "The header is separated by semicolons; textcnn reads CSV separated by commas "
                                      "and TSV by tabs: convert the file (e.g. pandas.read_csv(IN, sep=';')"),
    ("quoted.csv", '"text,label"\n"a,1"\n', "The whole header line is one quoted field, so it reads as one column"),
    ("tab.csv", "text\tlabel\na\t1\n", "The header is separated by tabs: read the file as TSV (name it .tsv or give "
                                       "--data.format tsv)"),
    ("json.csv", '{"text": "a", "label": 1}\n', "It looks like JSON Lines: name the file .jsonl or give --data.format jsonl"),
    ("compact.csv", '{"label":1,"text":"a"}\n', "line 1: not a CSV header (',' expected after '\"'). It looks like JSON Lines"),
    ("quoted.tsv", 'text\tlabel\n"two\nlines"\t1\n', "found 1; a TSV is read as it is, without quotes, so a text may "
                                                     "hold neither a tab nor a line break; this one looks quoted"),
    ("deep.jsonl", "[" * 100_000 + "\n", "deep.jsonl, line 1: invalid JSON (nested too deeply)"),
])
def test_a_file_in_another_shape_is_named_as_such(tmp_path, name, content, expected):
    assert expected in read_error(write(tmp_path, name, content))


def test_a_tsv_quoted_like_csv_is_read_as_it_is_with_a_warning(tmp_path):
    path = write(tmp_path, "q.tsv", 'text\tlabel\n"he said ""great"""\t1\nplain\t0\n')
    with pytest.warns(UserWarning, match=r"1 text\(s\) look quoted as the csv module or pandas write TSV \(line\(s\) 2\)"):
        assert read_examples(path)[0] == ['"he said ""great"""', "plain"]


def test_labels_in_either_unicode_form_are_one_class(tmp_path):
    nfd, nfc = unicodedata.normalize("NFD", "négatif"), unicodedata.normalize("NFC", "négatif")
    path = write(tmp_path, "d.csv", f"text,label\na,{nfd}\nb,{nfc}\nc,positif\n")
    assert read_examples(path)[1] == [nfc, nfc, "positif"]


def test_a_checkpoint_holding_a_label_in_another_unicode_form_reads_new_files(tmp_path):
    """Labels are read in NFC; a checkpoint made before that may hold NFD ones (same class)."""
    from textcnn.data import TextDataModule

    nfd = unicodedata.normalize("NFD", "négatif")
    path = write(tmp_path, "test.csv", f"text,label\na,{nfd}\nb,positif\n")
    dm = TextDataModule(test_path=str(path))
    dm.labels = ["positif", nfd]  # as such a checkpoint holds them
    assert dm._read_labelled(str(path), {"positif": 0, nfd: 1}) == (["a", "b"], [1, 0])


def test_a_class_missing_from_the_dev_split_is_said(tmp_path):
    from textcnn.data import TextDataModule

    rows = "".join(f"text {i} words,{'a' if i % 2 else 'b'}\n" for i in range(40)) + "rare one,c\n"
    train, dev = write(tmp_path, "t.csv", "text,label\n" + rows), write(tmp_path, "d.csv", "text,label\nx,a\ny,b\n")
    with pytest.warns(UserWarning, match=r"d.csv: the val split has no example of 1 class\(es\) \('c'\), which "
                                         r"model selection \(dev accuracy and macro-F1\) cannot see"):
        TextDataModule(train_path=str(train), val_path=str(dev)).prepare()


@pytest.mark.parametrize("fmt, labelled", [
    ("label_text", lambda label, text: f"{label} {text}"),
    ("text_label", lambda label, text: f"{text}\t{label}"),
])
def test_texts_to_predict_in_a_line_format_keep_their_words_unless_every_line_has_a_label(tmp_path, fmt, labelled,
                                                                                          caplog):
    from textcnn.data import TextDataModule

    train = write(tmp_path, "train.txt", "".join(labelled(i % 2, f"a film number {i}") + "\n" for i in range(40)))
    plain = write(tmp_path, "plain.txt", "not a good film at all\nbrilliant and moving\n")
    kim = write(tmp_path, "kim.txt", labelled(0, "not a good film at all") + "\n" + labelled(1, "brilliant") + "\n")
    other = write(tmp_path, "other.txt", labelled(7, "not a good film") + "\n" + labelled(1, "brilliant") + "\n")
    expected = {plain: ["not a good film at all", "brilliant and moving"],  # a text's first (last) word is no label
                kim: ["not a good film at all", "brilliant"],  # each line has one of the labels: left out
                other: [labelled(7, "not a good film"), labelled(1, "brilliant")]}  # 7 is no label of the model
    for path, texts in expected.items():
        dm = TextDataModule(train_path=str(train), predict_path=str(path), format=fmt, val_fraction=0.0)
        with caplog.at_level("INFO", logger="textcnn"):
            dm.prepare()
        assert dm.texts["predict"] == texts
        assert ("read as one text a line" if path != kim else f"read as {fmt}: each line has a label") in caplog.text
        caplog.clear()


@pytest.mark.parametrize("given, said, cap", [(1000, None, 50), (1000, False, 50), (1000, True, 80), (20, None, 20),
                                              (60, None, 60), (None, None, 80)])
def test_a_checkpoint_keeps_its_length_cap_unless_another_is_given(tmp_path, given, said, cap):
    # the default (1000) left out is not a limit given: the checkpoint's own (50) holds, as in its
    # exported bundle, so that test scores the model a service gets; another value, or None, or
    # the default said on the command (said=True, as the CLI tells), replaces it
    from textcnn.data import TextDataModule
    from textcnn.text import build_tokenizer

    words = " ".join(f"w{i}" for i in range(80))
    test = write(tmp_path, "t.csv", f"text,label\n{words},pos\nshort one,neg\n")
    data = {"vocab": ["<pad>", "<unk>", "w1"], "labels": ["neg", "pos"],
            "tokenizer": build_tokenizer("word").to_config(), "max_len": 50}
    dm = TextDataModule(test_path=str(test), max_len=given)
    assert dm.use_checkpoint(data, embed_dim=4, stage="test", max_len_given=said)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm.prepare()
    assert [len(ids) for ids in dm.splits["test"].ids] == [cap, 2]
    source = "the checkpoint's max_len" if given == 1000 and not said else "--data.max_len"
    assert [str(w.message).split(": ", 1)[1] for w in caught if "are cut" in str(w.message)] == (
        [f"1 test text(s) longer than {source} {cap} tokens are cut to their first {cap} (the longest has 80); "
         "--data.max_len N sets another limit, null none"] if cap < 80 else [])


def test_the_data_line_says_what_a_vocabulary_limit_costs_or_that_a_large_one_has_none(tmp_path, caplog,
                                                                                      monkeypatch):
    import textcnn.data
    from textcnn.data import TextDataModule

    # "common" in every text, "rare<i>" once each: min_freq 2 makes the rare half unknown
    rows = "".join(f"common rare{i},{'pos' if i % 2 else 'neg'}\n" for i in range(40))
    path = write(tmp_path, "d.csv", "text,label\n" + rows)
    caplog.set_level("INFO", logger="textcnn")
    TextDataModule(train_path=str(path), val_fraction=0.25, min_freq=2).prepare()
    assert "vocabulary 3 (--data.min_freq / max_vocab_size leave 50.0% of the training tokens unknown)" in caplog.text
    monkeypatch.setattr(textcnn.data, "LARGE_VOCABULARY", 10)
    caplog.clear()
    TextDataModule(train_path=str(path), val_fraction=0.25).prepare()
    assert "vocabulary 33 (no limit: each row is a row of the embedding table" in caplog.text
