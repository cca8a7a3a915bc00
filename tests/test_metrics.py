"""The test report: macro-F1 over the classes that occur, and reports of many classes."""
import numpy as np
import torch

from textcnn.metrics import (MAX_PLOTTED_CLASSES, accuracy_and_macro_f1, classification_report, format_report,
                             plot_confusion_matrix)


def test_macro_f1_leaves_out_a_class_with_no_example_that_is_never_predicted():
    names = ["a", "b", "c", "other"]  # "other" was in training, not in this test set
    y_true, y_pred = [0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0]
    report = classification_report(y_true, y_pred, names)
    per = [report["per_class"][n]["f1"] for n in ("a", "b", "c")]
    assert report["macro_f1"] == np.mean(per) and report["macro_f1_classes"] == 3
    assert report["per_class"]["other"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    assert [l for l in format_report(report).splitlines() if l.startswith("other")][0].split() == ["other", "–", "–", "–", "0"]
    assert "(over 3 of 4 classes: the others have no example here and were never predicted)" in format_report(report)
    # predicted but absent from the truth: it counts (an F1 of 0 it earned)
    assert classification_report(y_true, [3, 1, 1, 1, 2, 0], names)["macro_f1_classes"] == 4


def test_the_dev_figures_in_torch_equal_the_test_reports():
    # accuracy_and_macro_f1 (each epoch's dev figures, on the device) and classification_report
    # (the test report, through scikit-learn) agree, also with classes absent from both sides
    g = torch.Generator().manual_seed(0)
    for case in range(200):
        c, n = int(torch.randint(2, 7, (1,), generator=g)), int(torch.randint(1, 40, (1,), generator=g))
        y_true, y_pred = torch.randint(0, c, (n,), generator=g), torch.randint(0, c, (n,), generator=g)
        if case % 3 == 0:  # mostly right, with classes never seen nor predicted
            y_true = y_true % 2
            y_pred = y_true.clone()
            y_pred[: n // 3] = 0
        acc, f1 = accuracy_and_macro_f1(y_true, y_pred, c)
        report = classification_report(y_true.numpy(), y_pred.numpy(), [str(i) for i in range(c)])
        assert acc.item() == np.float32(report["accuracy"]) and abs(f1.item() - report["macro_f1"]) < 1e-6, case


def test_ids_that_are_no_class_index_are_refused_not_counted_as_classes():
    import pytest
    import torch

    assert classification_report(np.array([0, 1]), torch.tensor([1, 1]), ["a", "b"])["accuracy"] == 0.5
    for y_true, shown in (([0, 5], "5"), ([0, -1], "-1"), (["a", "b"], "'a'"), ([0, 1.5], "1.5")):
        with pytest.raises(ValueError, match=rf"y_true holds {shown}, not a class index in 0..1 .*not the labels"):
            classification_report(y_true, [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="y_true has 1 entries, y_pred 2"):
        classification_report([0], [0, 1], ["a", "b"])


def test_many_classes_print_no_matrix_and_plot_quickly_or_not_at_all(tmp_path):
    rng = np.random.default_rng(0)
    for classes in (60, MAX_PLOTTED_CLASSES + 1):
        names = [f"c{i}" for i in range(classes)]
        y = rng.integers(0, classes, 3 * classes).tolist()
        report = classification_report(y, y[::-1], names)
        assert "too many to print; it is in the JSON report" in format_report(report)
        # no count per cell above 30 classes (C x C text labels took 31 s and 4 GB at 150), none above 200
        drawn = plot_confusion_matrix(report, tmp_path / f"{classes}.png")
        assert drawn == (classes <= MAX_PLOTTED_CLASSES) == (tmp_path / f"{classes}.png").exists()
    names = [f"category_{i:03d}" for i in range(MAX_PLOTTED_CLASSES)]
    y = rng.integers(0, MAX_PLOTTED_CLASSES, 400).tolist()
    assert plot_confusion_matrix(classification_report(y, y, names), tmp_path / "most.png")
    from PIL import Image

    with Image.open(tmp_path / "most.png") as image:  # rows of 14 pixels or more for the 7-point names
        assert min(image.size) >= 14 * MAX_PLOTTED_CLASSES


def test_chinese_labels_without_a_font_for_them_are_numbered_not_boxes(tmp_path):
    import warnings

    from textcnn.metrics import _font_for

    names = ["体育", "科技", "财经"]
    font = _font_for(names)  # an installed CJK font, or numbers; never a font whose glyphs are boxes
    assert font is False or "last resort" not in font.get_name().lower()
    report = classification_report([0, 1, 2, 2], [0, 1, 2, 1], names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "Glyph ... missing from font(s)" would raise here
        assert plot_confusion_matrix(report, tmp_path / "zh.png")
    assert (tmp_path / "zh.png").stat().st_size > 0


def test_a_label_no_font_draws_goes_by_its_number_and_the_others_keep_their_names(tmp_path):
    from textcnn.metrics import _tick_names

    names = ["2", "10", "hot \u0378", "1"]  # U+0378: unassigned, no font has it
    shown, font = _tick_names(names)
    assert font is False and shown == ["2", "10", "#2", "1"]  # not 0, 1, 2, 3: the row "1" would be label 10
    report = classification_report([0, 1, 2, 3], [0, 1, 2, 2], names)
    assert plot_confusion_matrix(report, tmp_path / "mixed.png") and (tmp_path / "mixed.png").stat().st_size > 0
    assert _tick_names(["pos", "neg"]) == (["pos", "neg"], None)


def test_printed_table_lines_up_in_a_terminal_for_chinese_labels():
    import unicodedata

    def columns(line):  # what a terminal shows: wide characters take two columns
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)

    text = format_report(classification_report([0, 1, 2, 2], [0, 1, 2, 1], ["体育", "科技", "positive"]))
    table = text.splitlines()[:5]
    matrix = text.splitlines()[-4:]
    assert len({columns(line) for line in table[2:5]}) == 1, table
    assert len({columns(line) for line in matrix}) == 1, matrix
    assert matrix[1].startswith("体育") and matrix[1].endswith("1        0        0")
