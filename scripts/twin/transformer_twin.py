#!/usr/bin/python3
"""PyTorch twin of bcqnmt's Transformer: writes the golden fixture tests/test_nn_twin.cpp checks.

An independent implementation of the model's forward semantics, in the manner of llm.c's
PyTorch reference: the same post-LayerNorm Transformer as nn/transformer.cpp, written here
from the description (not from the C++ code) with PyTorch's own ops in float64, dropout 0.
For a tiny config, seeded random values for *every* parameter (biases, LayerNorm gains and
shifts included, so none of them is exercised only at its 0 / 1 start) and one right-padded
batch whose rows have different lengths, it writes tests/fixtures/twin_tiny.json:

  config       the C++ ModelConfig as JSON (nn/model_config.cpp keys)
  batch        source [B, S], target_in / target_out [B, T], pad id 0
  parameters   every parameter by its C++ name (Module::named_parameters()), shape + row-major data
  loss         cross-entropy averaged over non-pad target_out tokens
  logits       [B, T, V_target], row-major
  gradients    d loss / d parameter, by the same names

Regenerate (about a second, CPU PyTorch 1.13 from Debian: apt-get install python3-torch):

  /usr/bin/python3 scripts/twin/transformer_twin.py            # writes tests/fixtures/twin_tiny.json
  /usr/bin/python3 scripts/twin/transformer_twin.py --out F    # somewhere else

The output is deterministic (seeded; float64 on one thread). CI never runs this script:
the fixture is committed and the C++ test reads it without PyTorch.

Semantics mirrored (the C++ side's, which follow the Keras reference model):
  - embedding * sqrt(d_model) + sinusoidal encoding laid out [sin | cos] halves,
    angle(p, i) = p / 10000^(i / (d_model/2));
  - blocks are post-LayerNorm, x = LN(x + sublayer(x)); LayerNorm over the last axis with
    biased variance and epsilon inside the square root (Keras default 1e-3);
  - Keras MultiHeadAttention(num_heads=H, key_dim=K): Q/K/V are Dense(d_model -> H*K) with
    bias, heads side by side in the H*K axis, scores scaled by 1/sqrt(K), output
    Dense(H*K -> d_model) with bias; kernels stored [in, out] (y = x W + b);
  - masks act on keys only: a row's keys are its positions < (last non-pad position + 1);
    the decoder's self-attention is also causal (query i sees keys j <= i). Padded query
    positions still attend to their row's real keys (they never reach the loss);
  - FFN: Dense(d_model -> dff), relu, Dense(dff -> d_model); final untied Dense(d_model -> V_target).

Parameter values are float32 numbers (drawn in float32, then widened), written with 9
significant digits, which round-trips float32 exactly: the C++ model (float32) and this
twin use identical weights, so the test sees only the C++ side's float32 rounding.
Loss, logits and gradients are written with up to 17 significant digits (exact float64).
"""
import argparse
import json
import math
import os

import torch
import torch.nn.functional as F

PAD, UNK, START, END = 0, 1, 2, 3  # nn/decoding.h

CONFIG = {
    "num_layers": 2,
    "d_model": 16,
    "dff": 32,
    "num_heads": 2,
    # H*K = 12 != d_model: a head split, a scale 1/sqrt(d_model/H) or a kernel stored
    # [out, in] would not go unnoticed, as they could with H*K == d_model.
    "key_dim": 6,
    "dropout_rate": 0.0,
    "layer_norm_epsilon": 1e-3,
    "norm": "layer_norm",
    "max_positions": 64,
    "src_vocab_size": 13,
    "tgt_vocab_size": 11,
}
SEED = 20240601
# Real tokens per row, START and END included: every row a different length, and the
# longest row of each side is unpadded, so padding and the causal mask both matter.
SOURCE_LENGTHS = [5, 7, 3]
TARGET_LENGTHS = [4, 2, 6]  # target_in = [START, y_1..y_{m-1}], target_out = [y_1..y_{m-1}, END]


def parameter_shapes(c):
    """Every parameter, by the name nn/ registers it under, in registration order."""
    d, f, hk = c["d_model"], c["dff"], c["num_heads"] * c["key_dim"]
    shapes = {}

    def linear(prefix, n_in, n_out):
        shapes[prefix + "/kernel"] = [n_in, n_out]
        shapes[prefix + "/bias"] = [n_out]

    def attention_block(prefix):
        for proj in ("query", "key", "value"):
            linear(prefix + "/mha/" + proj, d, hk)
        linear(prefix + "/mha/attention_output", hk, d)
        shapes[prefix + "/layer_norm/gamma"] = [d]
        shapes[prefix + "/layer_norm/beta"] = [d]

    def ffn(prefix):
        linear(prefix + "/dense_0", d, f)
        linear(prefix + "/dense_1", f, d)
        shapes[prefix + "/layer_norm/gamma"] = [d]
        shapes[prefix + "/layer_norm/beta"] = [d]

    shapes["encoder/pos_embedding/embedding/embeddings"] = [c["src_vocab_size"], d]
    for i in range(c["num_layers"]):
        attention_block(f"encoder/layer_{i}/self_attention")
        ffn(f"encoder/layer_{i}/ffn")
    shapes["decoder/pos_embedding/embedding/embeddings"] = [c["tgt_vocab_size"], d]
    for i in range(c["num_layers"]):
        attention_block(f"decoder/layer_{i}/causal_self_attention")
        attention_block(f"decoder/layer_{i}/cross_attention")
        ffn(f"decoder/layer_{i}/ffn")
    linear("final_layer", d, c["tgt_vocab_size"])
    return shapes


def random_parameters(shapes, gen):
    """Seeded random values for everything, drawn in float32, returned as float64 leaves."""
    params = {}
    for name, shape in shapes.items():
        u = torch.rand(shape, generator=gen, dtype=torch.float32) * 2 - 1  # U(-1, 1)
        leaf = name.rsplit("/", 1)[1]
        if leaf == "kernel":
            value = u * math.sqrt(3.0 / shape[0])  # unit-variance outputs for unit inputs
        elif leaf == "gamma":
            value = 1.0 + 0.5 * u  # U(0.5, 1.5)
        elif leaf == "embeddings":
            value = 0.5 * u
        else:  # bias, beta
            value = 0.5 * u
        # Round to 9 significant digits in float32 (what the fixture stores) before use.
        value = torch.tensor([float(f"{x:.9g}") for x in value.flatten().tolist()], dtype=torch.float32)
        params[name] = value.reshape(shape).to(torch.float64).requires_grad_(True)
    return params


def make_batch(c, gen):
    def ids(lengths, vocab):
        width = max(lengths)
        rows = []
        for n in lengths:
            inner = torch.randint(4, vocab, (n - 2,), generator=gen).tolist()
            rows.append([START] + inner + [END] + [PAD] * (width - n))
        return rows

    source = ids(SOURCE_LENGTHS, c["src_vocab_size"])
    sentences = ids([m + 1 for m in TARGET_LENGTHS], c["tgt_vocab_size"])  # START y_1..y_{m-1} END, padded
    width = max(TARGET_LENGTHS)
    target_in, target_out = [], []
    for row, m in zip(sentences, TARGET_LENGTHS):
        target_in.append(row[:m] + [PAD] * (width - m))
        target_out.append(row[1 : m + 1] + [PAD] * (width - m))
    return (torch.tensor(source), torch.tensor(target_in), torch.tensor(target_out))


def sinusoidal_encoding(positions, d):
    half = d // 2
    p = torch.arange(positions, dtype=torch.float64)[:, None]
    i = torch.arange(half, dtype=torch.float64)[None, :]
    angle = p / torch.pow(10000.0, i / half)
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)  # [P, D]: [sin | cos]


def key_lengths(ids):
    """Per row: last non-pad position + 1."""
    nonpad = (ids != PAD).to(torch.int64)
    positions = torch.arange(1, ids.shape[1] + 1)[None, :]
    return (nonpad * positions).max(dim=1).values  # [B]


class Twin:
    def __init__(self, c, params):
        self.c, self.p = c, params
        self.pe = sinusoidal_encoding(c["max_positions"], c["d_model"])

    def dense(self, prefix, x):
        return x @ self.p[prefix + "/kernel"] + self.p[prefix + "/bias"]

    def norm(self, prefix, x):
        d = self.c["d_model"]
        return F.layer_norm(x, (d,), self.p[prefix + "/gamma"], self.p[prefix + "/beta"], self.c["layer_norm_epsilon"])

    def embed(self, prefix, ids):
        table = self.p[prefix + "/embedding/embeddings"]
        t = ids.shape[1]
        return F.embedding(ids, table) * math.sqrt(self.c["d_model"]) + self.pe[:t]

    def mha(self, prefix, x, context, lengths, causal):
        h, k = self.c["num_heads"], self.c["key_dim"]
        b, tq, tk = x.shape[0], x.shape[1], context.shape[1]

        def heads(y, t):  # [B, t, H*K] -> [B, H, t, K]
            return y.reshape(b, t, h, k).permute(0, 2, 1, 3)

        q = heads(self.dense(prefix + "/query", x), tq)
        kk = heads(self.dense(prefix + "/key", context), tk)
        v = heads(self.dense(prefix + "/value", context), tk)
        scores = q @ kk.transpose(-1, -2) / math.sqrt(k)  # [B, H, Tq, Tk]
        j = torch.arange(tk)[None, None, :]
        visible = j < lengths[:, None, None]  # [B, 1, Tk]
        if causal:
            i = torch.arange(tq)[None, :, None]
            visible = visible & (j <= i + tk - tq)  # [B, Tq, Tk]
        probs = torch.softmax(scores.masked_fill(~visible[:, None], float("-inf")), dim=-1)
        out = (probs @ v).permute(0, 2, 1, 3).reshape(b, tq, h * k)
        return self.dense(prefix + "/attention_output", out)

    def attention_block(self, prefix, x, context, lengths, causal):
        return self.norm(prefix + "/layer_norm", x + self.mha(prefix + "/mha", x, context, lengths, causal))

    def ffn(self, prefix, x):
        y = self.dense(prefix + "/dense_1", torch.relu(self.dense(prefix + "/dense_0", x)))
        return self.norm(prefix + "/layer_norm", x + y)

    def logits(self, source, target_in):
        src_len, tgt_len = key_lengths(source), key_lengths(target_in)
        x = self.embed("encoder/pos_embedding", source)
        for i in range(self.c["num_layers"]):
            x = self.attention_block(f"encoder/layer_{i}/self_attention", x, x, src_len, False)
            x = self.ffn(f"encoder/layer_{i}/ffn", x)
        encoded = x
        x = self.embed("decoder/pos_embedding", target_in)
        for i in range(self.c["num_layers"]):
            x = self.attention_block(f"decoder/layer_{i}/causal_self_attention", x, x, tgt_len, True)
            x = self.attention_block(f"decoder/layer_{i}/cross_attention", x, encoded, src_len, False)
            x = self.ffn(f"decoder/layer_{i}/ffn", x)
        return self.dense("final_layer", x)  # [B, T, V]


def masked_loss(logits, target_out):
    v = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, v), target_out.reshape(-1), ignore_index=PAD, reduction="mean")


def tensor_json(shape, values, digits):
    return {"shape": list(shape), "data": [float(f"{x:.{digits}g}") for x in values]}


def dump(obj, depth=0):
    """JSON with one line per key and each number array on a single line."""
    pad = " " * depth
    if isinstance(obj, dict):
        items = [f'{pad} {json.dumps(k)}: {dump(v, depth + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        return json.dumps(obj, separators=(",", ":"))
    return json.dumps(obj)


def main():
    default_out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "twin_tiny.json")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.normpath(default_out), help="fixture path (default: %(default)s)")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(SEED)
    c = CONFIG
    shapes = parameter_shapes(c)
    params = random_parameters(shapes, gen)
    source, target_in, target_out = make_batch(c, gen)

    model = Twin(c, params)
    logits = model.logits(source, target_in)
    loss = masked_loss(logits, target_out)
    names = list(shapes)
    grads = torch.autograd.grad(loss, [params[n] for n in names])

    # Self-checks of the twin itself. The loss is the mean over exactly the non-pad labels.
    counted = int((target_out != PAD).sum())
    per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target_out.reshape(-1), reduction="none")
    assert abs(float(per_token[target_out.reshape(-1) != PAD].sum()) / counted - float(loss)) < 1e-12
    # Softmax ignores a shift shared by a row's scores, so every key projection's bias has
    # an analytically zero gradient; in float64 it must come out at rounding level.
    for n, g in zip(names, grads):
        if n.endswith("/mha/key/bias"):
            assert float(g.abs().max()) < 1e-12, (n, float(g.abs().max()))

    fixture = {
        "generator": {
            "script": "scripts/twin/transformer_twin.py",
            "torch": torch.__version__,
            "dtype": "float64",
            "seed": SEED,
        },
        "config": c,
        "batch": {
            "source": {"shape": list(source.shape), "data": source.flatten().tolist()},
            "target_in": {"shape": list(target_in.shape), "data": target_in.flatten().tolist()},
            "target_out": {"shape": list(target_out.shape), "data": target_out.flatten().tolist()},
        },
        "parameters": {n: tensor_json(shapes[n], params[n].detach().flatten().tolist(), 9) for n in names},
        "loss": float(f"{float(loss):.17g}"),
        "logits": tensor_json(logits.shape, logits.detach().flatten().tolist(), 17),
        "gradients": {n: tensor_json(shapes[n], g.flatten().tolist(), 17) for n, g in zip(names, grads)},
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(dump(fixture) + "\n")
    total = sum(math.prod(s) for s in shapes.values())
    print(f"{args.out}: {len(names)} parameters ({total} values), {counted} counted tokens, loss {float(loss):.17g}")


if __name__ == "__main__":
    main()
