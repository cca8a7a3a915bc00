import lightning as L
import pytest
import torch

from textcnn.data import TextDataModule
from textcnn.module import TextCNNModule


def build(tiny_csv, vectors=None, variant="rand", **model_kw):
    dm = TextDataModule(train_path=str(tiny_csv), val_fraction=0.2, test_fraction=0.2, batch_size=16,
                        vectors=str(vectors) if vectors else None, embedding_dim=None if vectors else 16, min_len=3)
    module = TextCNNModule(vocab_size=dm.vocab_size, num_classes=dm.num_classes, embed_dim=dm.embed_dim,
                           variant=variant, kernel_sizes=[2, 3], num_filters=16, **model_kw)
    return dm, module


# The tests that take ``accelerator`` also run on a GPU where there is one (skipped elsewhere).
ACCELERATORS = ["cpu", pytest.param("gpu", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]


def trainer(accelerator="cpu", **kw):
    return L.Trainer(accelerator=accelerator, devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, **kw)


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_overfitting_one_small_batch_reaches_100_percent(tiny_csv, accelerator):
    L.seed_everything(0)
    dm, module = build(tiny_csv, drop_rate=0.0, optimizer="adam", lr=0.01)
    t = trainer(accelerator, max_epochs=60, overfit_batches=1, num_sanity_val_steps=0, limit_val_batches=0)
    t.fit(module, dm)
    batch = next(iter(t.train_dataloader))  # the very batch it overfitted (Lightning turns shuffling off)
    module.eval()
    with torch.no_grad():
        preds = module(batch["tokens"].to(module.device)).argmax(dim=1).cpu()
    assert (preds == batch["labels"]).float().mean().item() == 1.0


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_max_norm_holds_after_every_step(tiny_csv, accelerator):
    dm, module = build(tiny_csv, optimizer="sgd", lr=5.0, max_norm=0.5)
    trainer(accelerator, max_steps=5, limit_val_batches=0, num_sanity_val_steps=0).fit(module, dm)
    assert (module.model.head.weight.norm(dim=1) <= 0.5 + 1e-5).all()


def test_pretrained_vectors_reach_both_channels_and_the_static_one_stays(tiny_csv, tiny_glove):
    dm, module = build(tiny_csv, vectors=tiny_glove, variant="multichannel")
    trainer(max_epochs=2, num_sanity_val_steps=0).fit(module, dm)
    table = torch.from_numpy(dm.embedding_matrix)
    assert torch.equal(module.model.embedding_static.weight, table)  # frozen channel unchanged by training
    assert not torch.equal(module.model.embedding.weight, table)  # fine-tuned channel moved
    assert module.data_meta["labels"] == ["positive", "negative"]


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_test_report_is_written(tiny_csv, tmp_path, accelerator):
    dm, module = build(tiny_csv, report_dir=str(tmp_path / "report"))
    t = trainer(accelerator, max_epochs=3, num_sanity_val_steps=0)
    t.fit(module, dm)
    t.test(module, dm)
    report = module.test_report
    assert report["num_examples"] == 40 and set(report["per_class"]) == {"positive", "negative"}
    assert (tmp_path / "report" / "test_metrics.json").is_file()
    assert (tmp_path / "report" / "confusion_matrix.png").stat().st_size > 1000
    # where reports go is the run's, not the model's: the module reloaded from a checkpoint writes to
    # its new trainer's folder, not to the training run's report_dir
    t.save_checkpoint(tmp_path / "m.ckpt")
    (tmp_path / "report" / "test_metrics.json").unlink()
    reloaded = TextCNNModule.load_from_checkpoint(tmp_path / "m.ckpt", map_location="cpu")
    assert "report_dir" not in reloaded.hparams and reloaded.report_dir is None
    L.Trainer(accelerator=accelerator, devices=1, default_root_dir=tmp_path / "later", enable_progress_bar=False,
              enable_model_summary=False).test(reloaded, dm)
    assert not (tmp_path / "report" / "test_metrics.json").exists()
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("later/**/test_metrics.json")] == \
        ["later/lightning_logs/version_0/test_metrics.json"]


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_a_non_finite_loss_stops_training_with_a_clear_message(tiny_csv, accelerator):
    dm, module = build(tiny_csv, optimizer="sgd", lr=1e30, max_norm=None)
    # on the CPU at the step where it happens; on a GPU at the next read of the flag (every
    # log_every_n_steps steps, 3 here, or the end of the epoch), without a host sync per step
    where = "step" if accelerator == "cpu" else "by step"
    with pytest.raises(FloatingPointError, match=f"became .* at epoch 1, {where} .*lower the learning rate"):
        trainer(accelerator, max_epochs=3, num_sanity_val_steps=0, log_every_n_steps=3).fit(module, dm)


def test_a_pretrained_variant_without_vectors_is_refused(tiny_csv):
    dm, module = build(tiny_csv, variant="static")
    with pytest.raises(ValueError, match="needs pretrained vectors"):
        trainer(max_epochs=1).fit(module, dm)


@pytest.mark.filterwarnings(r"ignore:You are trying to `self.log\(\)`")  # a step called outside a Trainer
def test_label_smoothing_trains_against_softened_targets_and_is_checked(tiny_csv):
    e = 0.2
    dm, module = build(tiny_csv, drop_rate=0.0, label_smoothing=e)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    with torch.no_grad():
        module.model.head.weight.mul_(100)  # confident predictions, where smoothing tells
        logp = torch.log_softmax(module(batch["tokens"]), dim=1)
        loss = module.training_step(batch, 0)
    # (1 - e) of the weight on the true class, e spread evenly over all classes
    target = torch.full_like(logp, e / logp.shape[1])
    target[torch.arange(len(logp)), batch["labels"]] += 1 - e
    assert loss.item() == pytest.approx(-(target * logp).sum(dim=1).mean().item(), rel=1e-5)
    assert loss.item() != pytest.approx(torch.nn.functional.nll_loss(logp, batch["labels"]).item(), rel=1e-3)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\), got 1.0"):
        build(tiny_csv, label_smoothing=1.0)


def test_a_module_used_in_ones_own_trainer_script_is_checked_against_its_data(tiny_csv, tmp_path):
    # A module built or reloaded by hand (the command line links these) meets a data module that
    # does not fit it: a clear error, not an IndexError deep in torch or scores on other word ids.
    dm, module = build(tiny_csv)
    trainer(max_epochs=1, limit_val_batches=0, num_sanity_val_steps=0).fit(module, dm)
    path = tmp_path / "m.ckpt"
    t = trainer(max_epochs=1)
    t.strategy.connect(module)
    t.save_checkpoint(path)
    reloaded = TextCNNModule.load_from_checkpoint(path)
    other = TextDataModule(train_path=str(tiny_csv), val_fraction=0.3, test_fraction=0.2, split_seed=5,
                           batch_size=16, embedding_dim=16, min_len=3)  # another split: the words in another order
    assert other.vocab_size == dm.vocab_size and other.meta()["vocab"] != dm.meta()["vocab"]
    with pytest.raises(ValueError, match=r"trained with a different vocab than the data gives now \(first at id"):
        trainer().test(reloaded, other)
    with pytest.raises(ValueError, match=r"the model has num_classes=5, the data 2 labels"):
        trainer(max_epochs=1).fit(TextCNNModule(vocab_size=dm.vocab_size, num_classes=5, embed_dim=16,
                                                variant="rand", kernel_sizes=[2, 3], num_filters=4), dm)
    with pytest.raises(ValueError, match=r"pads texts to min_len=3 tokens, .* give TextDataModule\(min_len=6\)"):
        trainer(max_epochs=1).fit(TextCNNModule(vocab_size=dm.vocab_size, num_classes=2, embed_dim=16,
                                                variant="rand", kernel_sizes=[6], num_filters=4), dm)
    # the same data again (a test after the fit, a second fit) is fine, and the trained table is kept
    before = reloaded.model.embedding.weight.detach().clone()
    trainer(default_root_dir=tmp_path).test(reloaded, dm)  # its report in tmp_path, not the current folder
    assert torch.equal(reloaded.model.embedding.weight, before)


def test_a_pretrained_variant_fitted_without_a_data_module_is_warned_about(tiny_csv):
    dm, _ = build(tiny_csv)
    dm.prepare()
    module = TextCNNModule(vocab_size=dm.vocab_size, num_classes=2, embed_dim=16, variant="static",
                           kernel_sizes=[2, 3], num_filters=4)
    with pytest.warns(UserWarning, match="variant 'static' trains without pretrained vectors"):
        trainer(max_steps=1, limit_val_batches=0).fit(module, train_dataloaders=dm.train_dataloader())
