"""data/prepare.py: the classic `label sentence` files of Kim's benchmarks become the folder
`textcnn bench` reads (tiny files in those formats; nothing is downloaded)."""
import importlib.util
from pathlib import Path

from textcnn.data import read_examples

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("prepare", REPO / "data" / "prepare.py")
prepare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prepare)


def sources(folder: Path) -> Path:
    folder.mkdir()
    (folder / "rt-polarity.all").write_bytes(b"0 simplistic , silly and tedious . \n1 a caf\xe9 gem . \n\n"
                                                    b"0 \x85the maudlin \x93end\x94 \x81\n")
    for split in ("train", "dev", "test"):
        (folder / f"stsa.binary.{split}").write_text(f"1 a stirring {split} film\n0 dull\n", encoding="utf-8")
    (folder / "subj.all").write_text("0 smart and alert .\n1 a man goes home .\n", encoding="utf-8")
    (folder / "TREC.train.all").write_text("0 How did serfdom develop ?\n2 What is .com ?\n5 When ?\n", encoding="utf-8")
    (folder / "TREC.test.all").write_text("3 Who killed Gandhi ?\n4 Where is the Loop ?\n", encoding="utf-8")
    return folder


def test_the_classic_files_become_the_benchmark_folder_with_label_names(tmp_path, capsys):
    src, out = sources(tmp_path / "src"), tmp_path / "benchmarks"
    assert prepare.main(["--from", str(src), "--out", str(out)]) == 0
    # Windows-1252, as the rt-polarity bytes are: 0x85 is an ellipsis, not a control character
    assert read_examples(out / "mr" / "mr.csv") == (
        ["simplistic , silly and tedious .", "a café gem .", "…the maudlin “end” \x81"],
        ["negative", "positive", "negative"])
    assert read_examples(out / "subj" / "subj.csv")[1] == ["subjective", "objective"]
    assert read_examples(out / "trec" / "train.csv")[1] == ["DESC", "ABBR", "NUM"]
    assert read_examples(out / "trec" / "test.csv")[1] == ["HUM", "LOC"]
    assert read_examples(out / "sst2" / "dev.csv") == (["a stirring dev film", "dull"], ["positive", "negative"])
    assert "mr.csv 3 rows" in capsys.readouterr().out


def test_a_bad_line_or_a_missing_file_is_named_and_nothing_is_written(tmp_path, capsys):
    src, out = sources(tmp_path / "src"), tmp_path / "benchmarks"
    (src / "TREC.test.all").write_text("3 Who killed Gandhi ?\nLOC Where is the Loop ?\n", encoding="utf-8")
    assert prepare.main(["--from", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "TREC.test.all, line 2: expected '<label> <sentence>' with a label in ['0', '1', '2', '3', '4', '5']" in err
    (src / "subj.all").unlink()
    assert prepare.main(["--from", str(src), "--out", str(out), "--datasets", "subj", "mr"]) == 2
    assert "missing subj: subj.all; download them from https://raw.githubusercontent.com/" in capsys.readouterr().err
    assert not out.exists()
