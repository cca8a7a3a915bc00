"""TextClassifier.explain: which tokens' max-pooled windows drove the predicted label."""
import pytest
import torch

from textcnn import TextClassifier
from textcnn.model import pad_batch


@pytest.mark.parametrize("bundle", ["tiny_bundle_dir", "wide_bundle_dir"])
def test_token_scores_add_up_to_the_predicted_logit(bundle, request):
    clf = TextClassifier.load(request.getfixturevalue(bundle), device="cpu")
    for text in ["the film was great and lovely , a really moving story .", "bad", "a dull , boring plot"]:
        exp = clf.explain(text)
        assert exp.tokens == clf.tokenize(text) and len(exp.scores) == len(exp.tokens)
        assert exp.probabilities == pytest.approx(clf.predict(text)[0].probabilities, abs=1e-6)
        assert exp.label == max(exp.probabilities, key=exp.probabilities.get)
        with torch.no_grad():
            logits = clf.model(pad_batch(clf.encode([text]), clf.min_len))[0]
        pred = clf.labels.index(exp.label)
        # every pooled feature's contribution lands on the tokens of its winning window
        assert sum(exp.scores) == pytest.approx(float(logits[pred] - clf.model.head.bias[pred].detach()), abs=1e-4)


def test_spans_are_scaled_for_highlighting_and_empty_text_is_fine(tiny_bundle_dir):
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    spans = clf.explain("a superb and funny film").spans()
    assert [t for t, _ in spans] == ["a ", "superb ", "and ", "funny ", "film "]
    assert max(abs(s) for _, s in spans) == pytest.approx(1.0)
    assert clf.explain("").spans() == []


def test_other_poolings_are_refused_with_a_reason(tiny_bundle_dir):
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    clf.model.pool.mode = "avg"
    with pytest.raises(ValueError, match="need max pooling"):
        clf.explain("good film")


def test_unknown_tokens_are_marked_and_tokens_are_placed_in_the_text_as_typed(tiny_bundle_dir):
    clf = TextClassifier.load(tiny_bundle_dir, device="cpu")
    text = "It isn\u2019t a SUPERB, qzxv film_ (really)!"
    exp = clf.explain(text)
    assert exp.tokens == ["it", "is", "n't", "a", "superb", ",", "qzxv", "film", "(", "really", ")", "!"]
    assert exp.known == [t in clf.vocab.stoi for t in exp.tokens] and exp.unknown == [
        t for t in dict.fromkeys(exp.tokens) if t not in clf.vocab.stoi]
    assert "qzxv" in exp.unknown and "superb" not in exp.unknown
    assert [text[a:b] for a, b in exp.offsets] == ["It", "is", "n\u2019t", "a", "SUPERB", ",", "qzxv", "film", "(",
                                                   "really", ")", "!"]
    pieces = exp.segments()
    assert "".join(p for p, _ in pieces) == text
    scored = [(p, s) for p, s in pieces if s is not None]
    assert [p for p, _ in scored] == [text[a:b] for a, b in exp.offsets]
    assert [s for _, s in scored] == pytest.approx([s for _, s in exp.spans()])
    decomposed = clf.explain("e\u0301tude and a superb film")  # NFC composes the first word: still placed
    assert decomposed.tokens[0] == "\u00e9tude" and decomposed.offsets[0] == (0, 6)
    assert "".join(p for p, _ in decomposed.segments()) == "e\u0301tude and a superb film"


def test_offsets_follow_the_tokenizers_normal_form():
    from textcnn.api import _token_offsets
    from textcnn.text import CharTokenizer

    text = "ＡＢＣ１２３ 苹果，售价５９９９元！"
    tokens = CharTokenizer(nfkc=True)(text)
    assert [text[a:b] for a, b in _token_offsets(text, tokens, "NFKC")] == [
        "ＡＢＣ１２３", "苹", "果", "，", "售", "价", "５９９９", "元", "！"]


def test_highway_models_are_explained_by_gradient_times_input(highway_bundle_dir):
    from textcnn.model import TextCNN

    clf = TextClassifier.load(highway_bundle_dir, device="cpu")
    assert clf.config["model"]["highway"] == 1 and clf.model.highway is not None
    text = "the film was great and lovely , a really moving story ."
    exp = clf.explain(text)
    assert exp.probabilities == pytest.approx(clf.predict(text)[0].probabilities, abs=1e-6)
    assert len(exp.scores) == len(exp.tokens) and any(s != 0 for s in exp.scores)
    # gates shut, the highway is the identity: the explanation is the linear head's, exactly
    with torch.no_grad():
        clf.model.highway.gates[0].bias.fill_(-50.0)
    config = {k: v for k, v in clf.config["model"].items() if k != "highway"}
    plain = TextCNN(**config)
    plain.load_state_dict({k: v for k, v in clf.model.state_dict().items() if not k.startswith("highway.")})
    linear = TextClassifier(plain, {**clf.config, "model": config}).explain(text)
    shut = clf.explain(text)
    assert shut.label == linear.label and shut.scores == pytest.approx(linear.scores, abs=1e-5)


def test_offsets_span_the_invisible_characters_the_tokenizer_dropped():
    from textcnn.api import _token_offsets
    from textcnn.text import CharTokenizer, WordTokenizer

    text = "An inter\u00adnational hit\u200b! 你\u200b好"
    tokens = WordTokenizer()(text)
    offsets = _token_offsets(text, tokens, "NFC", drop_invisible=True)
    assert [text[a:b] for a, b in offsets] == ["An", "inter\u00adnational", "hit", "!", "你\u200b好"]
    chars = CharTokenizer()(text)
    offsets = _token_offsets(text, chars, "NFC", drop_invisible=True)
    assert [text[a:b] for a, b in offsets][-2:] == ["你", "好"]


def test_segments_of_a_text_with_no_token_give_the_text_back():
    from textcnn.api import Explanation

    for text in (".", "\t", "@#$ ~~"):
        e = Explanation(label="pos", probabilities={"neg": 0.5, "pos": 0.5}, tokens=[], scores=[], separator=" ",
                        known=[], offsets=[], text=text)
        assert "".join(piece for piece, _ in e.segments()) == text and all(s is None for _, s in e.segments())


def test_offsets_line_up_where_lowercasing_or_normalising_changes_the_length():
    from textcnn.api import _token_offsets
    from textcnn.text import WordTokenizer

    for text, expected in [
        ("A great film, shot in İstanbul.", ["A", "great", "film", ",", "shot", "in", "İstanbul"]),
        ("A great cafe\u0301 scene.", ["A", "great", "cafe\u0301", "scene"]),
        ("ΟΔΟΣ is a GREAT film.", ["ΟΔΟΣ", "is", "a", "GREAT", "film"]),
        ("The ﬁnal cut.", ["The", "ﬁnal", "cut"]),
    ]:
        tokens = WordTokenizer(nfkc="ﬁ" in text)(text)
        offsets = _token_offsets(text, tokens, "NFKC" if "ﬁ" in text else "NFC")
        assert None not in offsets, (text, tokens)
        assert [text[a:b] for a, b in offsets] == expected
