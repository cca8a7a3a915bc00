"""Tokenizers and the vocabulary: textcnn/text.py."""

import json
import os
import pickle
import random
import re

import pytest

from textcnn.text import PAD, UNK, CharTokenizer, Tokenizer, Vocab, WordTokenizer, build_tokenizer

TOKENIZERS = [WordTokenizer(), WordTokenizer(lowercase=False), CharTokenizer(), CharTokenizer(lowercase=False)]
ALL_TOKENIZERS = TOKENIZERS + [CharTokenizer(keep_runs=False),  # no ASCII fast path
                                WordTokenizer(nfkc=True), CharTokenizer(nfkc=True)]


def kim_clean_str(string: str) -> str:
    """Kim's CNN_sentence `clean_str`, with its escaped-paren output fixed to ``(``/``)``."""
    string = re.sub(r"[^A-Za-z0-9(),!?\'\`]", " ", string)
    string = re.sub(r"\'s", " 's", string)
    string = re.sub(r"\'ve", " 've", string)
    string = re.sub(r"n\'t", " n't", string)
    string = re.sub(r"\'re", " 're", string)
    string = re.sub(r"\'d", " 'd", string)
    string = re.sub(r"\'ll", " 'll", string)
    string = re.sub(r",", " , ", string)
    string = re.sub(r"!", " ! ", string)
    string = re.sub(r"\(", " ( ", string)
    string = re.sub(r"\)", " ) ", string)
    string = re.sub(r"\?", " ? ", string)
    string = re.sub(r"\s{2,}", " ", string)
    return string.strip().lower()


# --- word tokenizer ---------------------------------------------------------------------


def test_word_splits_clitics_and_punctuation():
    tokens = WordTokenizer()("It isn't bad, it's (really) good! We've, they'd, you'll, we're?")
    assert tokens == [
        "it", "is", "n't", "bad", ",", "it", "'s", "(", "really", ")", "good", "!",
        "we", "'ve", ",", "they", "'d", ",", "you", "'ll", ",", "we", "'re", "?",
    ]  # fmt: skip


def test_word_drops_other_symbols_and_keeps_quotes():
    assert WordTokenizer()("a.b-c_d $10 ``hi'' 'quoted'") == ["a", "b", "c", "d", "10", "``hi''", "'quoted'"]


def test_word_matches_kim_clean_str_on_ascii():
    rng = random.Random(0)
    pieces = "The film isn't it's we've I'd they'll you're ( ) , ! ? . - ; : \" ' ` 3.5 A_B don't".split()
    for _ in range(300):
        text = " ".join(rng.choices(pieces, k=12)) + rng.choice(["", "!", "?)", "'s"])
        assert WordTokenizer()(text) == kim_clean_str(text).split(), text


def test_word_lowercase_off_keeps_case_and_splits_upper_clitics():
    assert WordTokenizer(lowercase=False)("ISN'T It's Good") == ["IS", "N'T", "It", "'s", "Good"]


def test_word_keeps_unicode_letters():
    tokens = WordTokenizer()("Café naïve Über, हिन्दी Ωμέγα")
    assert tokens == ["café", "naïve", "über", ",", "हिन्दी", "ωμέγα"]


def test_word_normalises_decomposed_accents_and_curly_apostrophes():
    assert WordTokenizer()("cafe\u0301 don\u2019t") == ["café", "do", "n't"]


def test_word_empty_and_symbol_only_texts():
    assert WordTokenizer()("") == []
    assert WordTokenizer()(" ... -- ") == []


# --- char tokenizer ---------------------------------------------------------------------


def test_char_splits_cjk_and_keeps_latin_runs():
    assert CharTokenizer()("iPhone6发布了！") == ["iphone6", "发", "布", "了", "！"]
    assert CharTokenizer(lowercase=False)("iPhone6发布") == ["iPhone6", "发", "布"]


def test_char_drops_whitespace_and_splits_symbols():
    assert CharTokenizer()("  你好 \t世界,  Café-2 ") == ["你", "好", "世", "界", ",", "café", "-", "2"]


def test_char_without_runs_splits_letters_and_digits_too():
    split = CharTokenizer(keep_runs=False)
    assert split("iPhone6发布 2010年") == ["i", "p", "h", "o", "n", "e", "6", "发", "布", "2", "0", "1", "0", "年"]
    assert CharTokenizer(lowercase=False, keep_runs=False)(" Cafe\u0301!\u3000你 ") == ["C", "a", "f", "é", "!", "你"]
    text = "iPhone6发布了！ Café-2 你好"  # otherwise the same tokens as with runs kept
    assert split(text) == [c for token in CharTokenizer()(text) for c in token]


@pytest.mark.parametrize("tokenizer", TOKENIZERS, ids=repr)
def test_ascii_fast_path_matches_unicode_path(tokenizer):  # the two code paths must agree
    rng = random.Random(1)
    alphabet = [chr(i) for i in range(128)] + ["Ab9", "n't", "'s", "'VE", "N'T", "'ll", "'d", "'re"] * 4
    for _ in range(500):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 40)))
        assert tokenizer._ascii_tokens(text) == tokenizer._unicode_tokens(text), repr(text)


@pytest.mark.parametrize("tokenizer", ALL_TOKENIZERS, ids=repr)
def test_tokenize_many_equals_one_text_at_a_time(tokenizer):
    rng = random.Random(2)
    alphabet = [chr(i) for i in range(128)] + ["Ab9", "n't", "'s", "'VE", "é", "你", "\u2019s"] * 4
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(300)]
    texts += ["", "a\x00b", "'", "s", "n't"]  # NUL inside a text, clitics at text edges
    assert tokenizer.tokenize_many(texts) == [tokenizer(t) for t in texts]


# --- build_tokenizer ----------------------------------------------------------------------


@pytest.mark.parametrize("tokenizer", ALL_TOKENIZERS, ids=repr)
def test_build_tokenizer_round_trips_config(tokenizer):
    config = json.loads(json.dumps(tokenizer.to_config()))
    rebuilt = build_tokenizer(config)
    assert rebuilt == tokenizer
    assert rebuilt("Don't 发布 iPhone") == tokenizer("Don't 发布 iPhone")


def test_build_tokenizer_from_name():
    assert build_tokenizer("word") == WordTokenizer(lowercase=True)
    assert build_tokenizer("char", lowercase=False) == CharTokenizer(lowercase=False)
    assert build_tokenizer({"type": "word"}, lowercase=False) == WordTokenizer(lowercase=False)
    assert isinstance(build_tokenizer("char"), Tokenizer)
    assert build_tokenizer({"type": "char", "keep_runs": False}) == CharTokenizer(keep_runs=False)
    # bundles written before keep_runs existed store no such key: they keep runs, as they did
    assert build_tokenizer({"type": "char", "lowercase": True}) == CharTokenizer(keep_runs=True)


def test_nfkc_reads_full_width_and_compatibility_forms_as_plain_ones_and_nfc_is_the_default():
    text = "ＡＢＣ１２３ ﬁne 苹果，售价５９９９元！"
    assert WordTokenizer(nfkc=True)(text) == ["abc123", "fine", "苹果", ",", "售价5999元", "!"]
    assert CharTokenizer(nfkc=True)(text) == ["abc123", "fine", "苹", "果", ",", "售", "价", "5999", "元", "!"]
    assert CharTokenizer()(text)[:3] == ["ａ", "ｂ", "ｃ"]  # NFC keeps full-width forms apart
    assert build_tokenizer({"type": "char", "nfkc": True}).to_config() == {
        "type": "char", "lowercase": True, "keep_runs": True, "nfkc": True, "drop_invisible": True}
    assert "nfkc" not in build_tokenizer("char").to_config()  # configs and bundles without it read as before


def test_build_tokenizer_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"'bpe'.*word, char"):
        build_tokenizer("bpe")
    with pytest.raises(ValueError, match="unknown"):
        build_tokenizer({"type": "word", "lower": True})
    with pytest.raises(ValueError, match=r"unknown \['keep_runs'\]; a 'word' tokenizer takes 'type' and optionally 'lowercase'"):
        build_tokenizer({"type": "word", "keep_runs": False})
    with pytest.raises(ValueError, match="'keep_runs' must be true or false, got 'no'"):
        build_tokenizer({"type": "char", "keep_runs": "no"})


@pytest.mark.parametrize("tokenizer", ALL_TOKENIZERS, ids=repr)
def test_tokenizers_pickle(tokenizer):  # DataLoader workers pickle the dataset, tokenizer included
    assert pickle.loads(pickle.dumps(tokenizer)) == tokenizer


# --- Vocab ------------------------------------------------------------------------------------


def test_vocab_orders_by_frequency_then_first_appearance():
    vocab = Vocab.build([["b", "a", "c"], ["c", "a", "d"], ["c"]])
    assert vocab.itos == [PAD, UNK, "c", "a", "b", "d"]
    assert vocab.stoi["c"] == 2 and len(vocab) == 6
    assert Vocab.pad_id == 0 and Vocab.unk_id == 1


def test_vocab_min_freq_and_max_size():
    lists = [["a", "a", "a", "b", "b", "c"]]
    assert Vocab.build(lists, min_freq=2).itos == [PAD, UNK, "a", "b"]
    assert Vocab.build(lists, max_size=3).itos == [PAD, UNK, "a"]
    with pytest.raises(ValueError, match="max_size"):
        Vocab.build(lists, max_size=1)
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(lists, min_freq=0)


def test_vocab_extra_tokens_appended_after_counted_within_max_size():
    lists = [["a", "b", "a"]]
    assert Vocab.build(lists, extra_tokens=["b", "x", "y"]).itos == [PAD, UNK, "a", "b", "x", "y"]
    assert Vocab.build(lists, max_size=5, extra_tokens=["x", "y"]).itos == [PAD, UNK, "a", "b", "x"]


def test_vocab_does_not_duplicate_specials_seen_in_data():
    assert Vocab.build([[PAD, "a", UNK]]).itos == [PAD, UNK, "a"]


def test_vocab_encode_decode():
    vocab = Vocab.build([["the", "film"]])
    assert vocab.encode(["the", "plot", "film"]) == [2, 1, 3]
    assert vocab.decode([2, 1, 0]) == ["the", UNK, PAD]
    assert "film" in vocab and "plot" not in vocab
    with pytest.raises(ValueError, match="token id 9"):
        vocab.decode([9])


def test_vocab_validates_itos():
    with pytest.raises(ValueError, match="must start with"):
        Vocab(["a", PAD, UNK])
    with pytest.raises(ValueError, match="'a' appears twice, at ids 2 and 3"):
        Vocab([PAD, UNK, "a", "a"])


def test_vocab_save_load_round_trip(tmp_path):
    vocab = Vocab.build([["café", "发布", "a"]])
    path = tmp_path / "vocab.json"
    path.write_text("old")  # overwritten in place
    vocab.save(path)
    assert Vocab.load(path) == vocab
    assert Vocab.from_dict(json.loads(path.read_text(encoding="utf-8"))) == vocab
    assert "café" in path.read_text(encoding="utf-8")  # UTF-8, not \\u escapes
    assert os.listdir(tmp_path) == ["vocab.json"]  # no temp file left behind


def test_vocab_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Vocab.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        Vocab.load(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"itos": ["a"]}')
    with pytest.raises(ValueError, match="wrong.json.*must start with"):
        Vocab.load(wrong)



def test_invisible_characters_are_dropped_but_not_by_tokenizers_saved_before_that():
    from textcnn.text import saved_tokenizer

    text = "An inter\u00adnational hit\u200b! \ufeff你\u200b好\ufe0f ❤\ufe0f 👨\u200d👩"
    assert WordTokenizer()(text) == ["an", "international", "hit", "!", "你好"]
    assert CharTokenizer()(text) == ["an", "international", "hit", "!", "你", "好", "❤", "👨", "👩"]
    assert CharTokenizer(keep_runs=False)(text)[:4] == ["a", "n", "i", "n"]
    assert "\ufe0f" not in CharTokenizer(keep_runs=False)(text)
    # what checkpoints and bundles saved before the option hold: read as they were trained
    for config in ({"type": "word", "lowercase": True}, {"type": "char", "lowercase": True, "keep_runs": True}):
        old = saved_tokenizer(config)
        assert old.drop_invisible is False and old.to_config() == config
        assert "\u200b" in old(text) or ["inter", "national"] == old(text)[1:3]
    # a config of today's says so, and reads back the same
    assert saved_tokenizer(CharTokenizer().to_config()) == CharTokenizer()
    assert build_tokenizer({"type": "char"}).drop_invisible is True  # a user's config: the new default
