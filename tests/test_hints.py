"""close_names / did_you_mean: the option a mistyped name meant, and no suggestion rather than a wrong one."""
import pytest

from textcnn.hints import HintingArgumentParser, close_names, did_you_mean

FIT = ["--data.train_path", "--data.test_path", "--data.val_fraction", "--data.test_fraction", "--data.batch_size",
       "--data.tokenizer", "--data.max_len", "--data.lowercase", "--data.text_column", "--model.variant",
       "--model.lr", "--model.drop_rate", "--model.kernel_sizes", "--model.lr_scheduler_x", "--trainer.max_epochs",
       "--trainer.min_epochs", "--trainer.devices", "--trainer.plugins", "--checkpoint.monitor", "--checkpoint.mode",
       "--prediction_writer.output_path", "--ckpt_path", "--model"]


@pytest.mark.parametrize("given, meant", [
    ("--model.varient", ["--model.variant"]),              # spelling
    ("--data.train_pth", ["--data.train_path"]),
    ("--model.kernal_sizes", ["--model.kernel_sizes"]),
    ("--max_epochs", ["--trainer.max_epochs"]),            # a key without its group
    ("--output_path", ["--prediction_writer.output_path"]),
    ("--monitor", ["--checkpoint.monitor"]),
    ("--mode", ["--checkpoint.mode"]),
    ("--model.lr_rate", ["--model.lr"]),                   # not drop_rate, which merely looks alike
    ("--trainer.epochs", ["--trainer.max_epochs"]),        # the usual meaning, not min_epochs
    ("--data.test_file", ["--data.test_path"]),            # the words people use for the options' words
    ("--data.val_size", ["--data.val_fraction"]),
    ("--trainer.gpus", ["--trainer.devices"]),
    ("--model.dropout", ["--model.drop_rate"]),
    ("--data.max_length", ["--data.max_len"]),
    ("--data.tokeniser", ["--data.tokenizer"]),
    ("--model.drop", ["--model.drop_rate"]),               # the start of a name
    ("--ckpt-path", ["--ckpt_path"]),
    ("--model.lr_warmup", []),                             # not lr: a warm-up is not a learning rate
    ("--zzz", []),                                         # nothing close: no suggestion
    ("--data.colour", []),
])
def test_close_names(given, meant):
    assert close_names(given, FIT) == meant


def test_did_you_mean_reads_argparse_messages_and_skips_list_append_forms():
    known = [*FIT, "--model.kernel_sizes+"]
    assert did_you_mean("unrecognized arguments: --model.varient static --zzz 3", known) == \
        "--model.varient: did you mean --model.variant?"
    assert did_you_mean("unrecognized arguments: --model.kernal_sizes=[3]", known) == \
        "--model.kernal_sizes: did you mean --model.kernel_sizes?"
    assert did_you_mean("ambiguous option: --lr could match --lr_scheduler.help, --lr_scheduler", known) == \
        "--lr: did you mean --model.lr?"
    assert did_you_mean("the following arguments are required: --config", known) == ""


def test_hinting_argument_parser(capsys):
    p = HintingArgumentParser(prog="textcnn cv")
    p.add_argument("--train-path")
    with pytest.raises(SystemExit):
        p.parse_args(["--train_path", "x.csv"])
    assert capsys.readouterr().err.strip().endswith(
        "unrecognized arguments: --train_path x.csv; --train_path: did you mean --train-path?")
    p.add_argument("--epochs", type=int)
    with pytest.raises(SystemExit):  # an abbreviation is not taken: it would change meaning as options are added
        p.parse_args(["--epoch", "3"])
    assert capsys.readouterr().err.strip().endswith("--epoch: did you mean --epochs?")
