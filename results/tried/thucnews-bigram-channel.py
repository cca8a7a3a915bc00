"""THUCNews try: a character-bigram embedding channel beside the characters (not in textcnn).

Each position i gets [vector of character i ; vector of the bigram (i, i+1)], the bigram table
initialised with the mean of its two characters' vectors and fine-tuned; bigrams seen fewer than
MIN_COUNT times in training share one <unk> row. Same split (seed), windows 1-5 x 200, wide
padding, dropout 0.5, Adadelta, max-norm 3, batch 50 as configs/thucnews.yaml; best epoch on dev.
With --no-bigrams the same loop without the bigram channel (the control). Regularisers tried on
the control: --label-smoothing E (cross-entropy against (1 - E) one-hot + E uniform),
--token-dropout P (each training character becomes <unk> with probability P, drawn per batch),
--filters N (maps per window, 200 in the config), --drop-rate P (0.5 in the config),
--highway N (N highway layers on the pooled features before dropout and the head, Srivastava
et al. 2015, gate bias -2 so they start near the identity, as in Kim et al. 2016's
character-aware model), --freeze-epochs N (the character table frozen for the first N epochs,
then fine-tuned: the filters learn on the pretrained vectors before these move).

    python results/tried/thucnews-bigram-channel.py [--no-bigrams] [--seed 0] [--epochs 30]
        [--label-smoothing 0.1] [--token-dropout 0.1] [--filters 400] [--drop-rate 0.3] [--highway 1]
        [--freeze-epochs 5]
"""
import argparse, sys, time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import nn

from textcnn.bench import CONFIG_DIR, load_config, make_datamodule
from textcnn.model import TextCNN, pad_batch

p = argparse.ArgumentParser()
p.add_argument("--no-bigrams", action="store_true")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--epochs", type=int, default=30)
p.add_argument("--patience", type=int, default=10)
p.add_argument("--min-count", type=int, default=2)
p.add_argument("--data", default="../shared/benchmarks/thucnews")
p.add_argument("--label-smoothing", type=float, default=0.0)
p.add_argument("--token-dropout", type=float, default=0.0)
p.add_argument("--filters", type=int, default=None)
p.add_argument("--highway", type=int, default=0)
p.add_argument("--drop-rate", type=float, default=None)
p.add_argument("--freeze-epochs", type=int, default=0)
args = p.parse_args()
torch.set_num_threads(1)
cfg = load_config(CONFIG_DIR / "thucnews.yaml")
data = {**cfg["data"], "train_path": f"{args.data}/train.csv", "test_path": f"{args.data}/test.csv",
        "vectors": f"{args.data}/tencent_char_200d.txt"}
dm = make_datamodule(data, cfg["model"], split_seed=args.seed)
dm.prepare()
chars = dm.embedding_matrix  # (V, 200)
V = len(dm.vocab)
ids = {k: dm.splits[k].ids for k in ("train", "val", "test")}
labels = {k: np.asarray(dm.splits[k].labels) for k in ids}

# bigram ids: 0 pad, 1 unknown; pair (a, b) of char ids, b = 0 after the last character
counts = Counter((a, b) for x in ids["train"] for a, b in zip(x, [*x[1:], 0]))
bigram = {pair: i + 2 for i, pair in enumerate(p for p, c in counts.items() if c >= args.min_count)}
B = len(bigram) + 2
table = np.zeros((B, chars.shape[1]), dtype=np.float32)
# row 1 (unknown bigrams) stays zeros
for (a, b), i in bigram.items():
    table[i] = (chars[a] + chars[b]) / 2 if b else chars[a]
print(f"{V} chars, {len(counts)} bigrams in training, {len(bigram)} seen >= {args.min_count} times", flush=True)

def encode(x):  # one id per position: char + V * bigram (0 stays padding)
    return [a + V * bigram.get((a, b), 1) for a, b in zip(x, [*x[1:], 0])]

class BigramTextCNN(TextCNN):
    def __init__(self, **kw):
        super().__init__(**kw, embed_dim=400 if not args.no_bigrams else 200)

    def embed(self, tokens):
        c, g = tokens % V, tokens // V
        x = self.char(c) if args.no_bigrams else torch.cat([self.char(c), self.big(g)], -1)
        return x.transpose(1, 2)

class Highway(nn.Module):  # y = t * relu(W x) + (1 - t) * x, t = sigmoid(G x), per layer
    def __init__(self, dim, layers):
        super().__init__()
        self.lin = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.gate = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        for g in self.gate:
            nn.init.constant_(g.bias, -2.0)

    def forward(self, x):
        for lin, gate in zip(self.lin, self.gate):
            t = torch.sigmoid(gate(x))
            x = t * torch.relu(lin(x)) + (1 - t) * x
        return x

torch.manual_seed(args.seed); np.random.seed(args.seed)
m = cfg["model"]
drop_rate = m["drop_rate"] if args.drop_rate is None else args.drop_rate
filters = args.filters or m["num_filters"]
model = BigramTextCNN(vocab_size=2, num_classes=dm.num_classes, variant="non-static", kernel_sizes=m["kernel_sizes"],
                      num_filters=filters, drop_rate=drop_rate, conv_padding="wide")
del model.embedding
if args.highway:
    model.highway = Highway(model.num_features, args.highway)
    features = model.forward_features
    model.forward_features = lambda tokens: model.highway(features(tokens))
model.char = nn.Embedding.from_pretrained(torch.from_numpy(chars), freeze=False, padding_idx=0)
model.big = nn.Embedding.from_pretrained(torch.from_numpy(table), freeze=False, padding_idx=0)
opt = torch.optim.Adadelta([q for q in model.parameters() if q.requires_grad], lr=1.0, rho=0.95, eps=1e-6)
enc = {k: [encode(x) for x in v] for k, v in ids.items()}

def accuracy(split):
    model.eval(); right = 0
    with torch.no_grad():
        for s in range(0, len(enc[split]), 500):
            logits = model(pad_batch(enc[split][s:s + 500], 1))
            right += int((logits.argmax(1).numpy() == labels[split][s:s + 500]).sum())
    return right / len(enc[split])

rng = np.random.default_rng(args.seed)
best = (-1, 0, None); stale = 0
for epoch in range(1, args.epochs + 1):
    model.train(); t = time.perf_counter()
    model.char.weight.requires_grad_(epoch > args.freeze_epochs)  # Adadelta skips a None gradient
    order = rng.permutation(len(enc["train"]))
    for s in range(0, len(order), 50):
        rows = order[s:s + 50]
        batch = pad_batch([enc["train"][i] for i in rows], 1)
        if args.token_dropout:
            if not args.no_bigrams:
                sys.exit("--token-dropout is for the control (--no-bigrams)")
            drop = (batch > 0) & (torch.rand(batch.shape) < args.token_dropout)
            batch[drop] = dm.vocab.unk_id
        loss = nn.functional.cross_entropy(model(batch), torch.as_tensor(labels["train"][rows]),
                                           label_smoothing=args.label_smoothing)
        opt.zero_grad(); loss.backward(); opt.step(); model.apply_max_norm(3.0)
    dev = accuracy("val")
    print(f"epoch {epoch} dev {dev:.4f} {time.perf_counter() - t:.1f} s", flush=True)
    if dev > best[0]:
        best = (dev, epoch, {k: v.clone() for k, v in model.state_dict().items()}); stale = 0
    else:
        stale += 1
        if stale >= args.patience:
            break
model.load_state_dict(best[2])
print(f"RESULT bigrams={not args.no_bigrams} ls={args.label_smoothing} tokdrop={args.token_dropout} "
      f"filters={filters} highway={args.highway} drop={drop_rate} "
      f"freeze={args.freeze_epochs} seed={args.seed} best_epoch={best[1]} dev={100 * best[0]:.2f} "
      f"test={100 * accuracy('test'):.2f}", flush=True)
