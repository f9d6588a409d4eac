#!/usr/bin/python3
"""Golden files for the Llama model: llm.c's "debug state" idea, for tests/llama/golden.test.ts.

A tiny random Llama-3.2 (GQA, llama3 rope scaling with kept, interpolated and scaled
frequencies, tied embeddings) is written as a Hugging Face model directory, and a plain-torch
reference that follows transformers' LlamaForCausalLM step by step runs it in float64 on inputs
with left padding and a hole in the key mask, with explicit positions. It records, per case:
next-token log-probs, final normed hidden states, the mean NLL and the gradient of that loss
with respect to every trainable tensor. Cases:
  ids     token ids in; gradients of every base weight
  embeds  input embeddings in (random, not rows of the table); gradients of every base weight
          and of the embeddings
  lora    token ids in, LoRA (r=4, alpha=8) on q_proj and v_proj with nonzero A and B, base
          frozen; gradients of A and B only
Everything is computed from the float32 values that are saved, so the only difference a float64
engine can show is the float32 rounding of the saved results.

Run by hand (not in CI), with Debian's torch (apt-get install python3-torch):
    /usr/bin/python3 scripts/golden_llama.py
It writes tests/fixtures/llama_golden/{config.json, model.safetensors, golden.safetensors,
golden.json}; the output is deterministic for a given seed.
"""

import json
import math
import os
import struct
import sys

import torch

SEED = 1234
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'llama_golden')

# head_dim 8 at theta 1e4 has wavelengths 2π·{1, 10, 100, 1000}; with the original context 64,
# low 1 and high 8 the first is kept (< 8), the second interpolated, the last two scaled (> 64).
CONFIG = {
    'architectures': ['LlamaForCausalLM'],
    'model_type': 'llama',
    'attention_bias': False,
    'attention_dropout': 0.0,
    'bos_token_id': 1,
    'eos_token_id': 2,
    'head_dim': 8,
    'hidden_act': 'silu',
    'hidden_size': 32,
    'initializer_range': 0.02,
    'intermediate_size': 48,
    'max_position_embeddings': 256,
    'mlp_bias': False,
    'num_attention_heads': 4,
    'num_hidden_layers': 2,
    'num_key_value_heads': 2,
    'pretraining_tp': 1,
    'rms_norm_eps': 1e-5,
    'rope_scaling': {
        'factor': 4.0,
        'high_freq_factor': 8.0,
        'low_freq_factor': 1.0,
        'original_max_position_embeddings': 64,
        'rope_type': 'llama3',
    },
    'rope_theta': 10000.0,
    'tie_word_embeddings': True,
    'torch_dtype': 'float32',
    'use_cache': True,
    'vocab_size': 61,
}
LORA = {'r': 4, 'alpha': 8, 'target_modules': ['q_proj', 'v_proj']}

# 1 real, 0 padding: row 0 has a hole in the middle, row 1 is left-padded.
KEY_MASK = [[1, 1, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]]


# ---------------------------------------------------------------------------------------------
# The reference model: transformers' LlamaForCausalLM in plain torch.

def rope_inv_freq(c):
    """LlamaRotaryEmbedding's inv_freq with _compute_llama3_parameters applied."""
    dim, base = c['head_dim'], c['rope_theta']
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float64) / dim))
    s = c['rope_scaling']
    factor, low, high, old = s['factor'], s['low_freq_factor'], s['high_freq_factor'], s['original_max_position_embeddings']
    low_freq_wavelen = old / low
    high_freq_wavelen = old / high
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, inv_freq_llama), wavelen


def rms_norm(x, weight, eps):
    # HF upcasts to float32 (for half-precision weights); here everything is already float64.
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(inv_freq, positions):
    """positions [B, T] → cos, sin [B, 1, T, D] (HF: emb = cat(freqs, freqs))."""
    freqs = positions.to(torch.float64)[:, :, None] * inv_freq[None, None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos()[:, None], emb.sin()[:, None]


def repeat_kv(x, n_rep):
    """[B, Hkv, T, D] → [B, Hkv·n_rep, T, D]; query head h reads kv head h // n_rep."""
    b, hkv, t, d = x.shape
    return x[:, :, None].expand(b, hkv, n_rep, t, d).reshape(b, hkv * n_rep, t, d)


def additive_mask(key_mask, dtype):
    """HF's 4D mask: 0 where query t may see key s (s <= t and key real), the dtype's minimum elsewhere."""
    b, t = key_mask.shape
    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    allowed = causal[None, None] & key_mask.bool()[:, None, None, :]
    return torch.where(allowed, torch.tensor(0.0, dtype=dtype), torch.tensor(torch.finfo(dtype).min, dtype=dtype))


def linear(x, w, lora=None):
    y = x @ w.T
    if lora is not None:
        a, b, scale = lora
        y = y + scale * ((x @ a.T) @ b.T)
    return y


def forward(c, w, inputs_embeds, positions, key_mask, loras=None):
    """Returns the final normed hidden states [B, T, d] and the logits [B, T, V]."""
    loras = loras or {}
    B, T, _ = inputs_embeds.shape
    H, Hkv, D = c['num_attention_heads'], c['num_key_value_heads'], c['head_dim']
    eps = c['rms_norm_eps']
    inv_freq, _ = rope_inv_freq(c)
    cos, sin = rope_cos_sin(inv_freq, positions)
    mask = additive_mask(key_mask, inputs_embeds.dtype)
    x = inputs_embeds
    for i in range(c['num_hidden_layers']):
        p = f'model.layers.{i}'
        lin = lambda name, h: linear(h, w[f'{p}.{name}.weight'], loras.get(f'{p}.{name}'))
        h = rms_norm(x, w[f'{p}.input_layernorm.weight'], eps)
        q = lin('self_attn.q_proj', h).view(B, T, H, D).transpose(1, 2)
        k = lin('self_attn.k_proj', h).view(B, T, Hkv, D).transpose(1, 2)
        v = lin('self_attn.v_proj', h).view(B, T, Hkv, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, H // Hkv), repeat_kv(v, H // Hkv)
        scores = (q @ k.transpose(2, 3)) * D ** -0.5 + mask
        probs = torch.softmax(scores, dim=-1)
        attn = (probs @ v).transpose(1, 2).reshape(B, T, H * D)
        x = x + lin('self_attn.o_proj', attn)
        h = rms_norm(x, w[f'{p}.post_attention_layernorm.weight'], eps)
        x = x + lin('mlp.down_proj', torch.nn.functional.silu(lin('mlp.gate_proj', h)) * lin('mlp.up_proj', h))
    hidden = rms_norm(x, w['model.norm.weight'], eps)
    logits = hidden @ w['model.embed_tokens.weight'].T  # tied LM head
    return hidden, logits


def next_token_loss(logits, ids, key_mask):
    """Log-probs of ids[:, t+1] at position t where both t and t+1 are real; their mean NLL."""
    valid = (key_mask[:, :-1] * key_mask[:, 1:]).bool()
    logprobs_all = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None].long())[..., 0]
    logprobs = torch.where(valid, logprobs_all, torch.zeros_like(logprobs_all))
    loss = -logprobs.sum() / valid.sum()
    return logprobs, valid, loss


# ---------------------------------------------------------------------------------------------
# safetensors, written by hand (the format: u64 header length, JSON header, raw little-endian data).

def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype in (torch.float64, torch.float32):
            dtype, t = 'F32', t.to(torch.float32)
        elif t.dtype in (torch.int64, torch.int32, torch.bool):
            dtype, t = 'I32', t.to(torch.int32)
        else:
            raise ValueError(f'{name}: unsupported dtype {t.dtype}')
        data = struct.pack(f'<{t.numel()}{"f" if dtype == "F32" else "i"}', *t.flatten().tolist())
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-(8 + len(text)) % 8)  # pad so the data section starts 8-byte aligned
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def f32(t):
    """Rounds to float32 and back: the reference works from exactly the saved values."""
    return t.to(torch.float32).to(torch.float64)


# ---------------------------------------------------------------------------------------------

def main():
    torch.manual_seed(SEED)
    c = CONFIG
    V, d, I = c['vocab_size'], c['hidden_size'], c['intermediate_size']
    H, Hkv, D = c['num_attention_heads'], c['num_key_value_heads'], c['head_dim']

    # Weights larger than HF's initializer_range (0.02) so attention is not uniform and the
    # log-probs are far from log(1/V); norm weights away from one so their gradients matter.
    shapes = {'model.embed_tokens.weight': [V, d]}
    for i in range(c['num_hidden_layers']):
        p = f'model.layers.{i}'
        shapes.update({
            f'{p}.input_layernorm.weight': [d],
            f'{p}.self_attn.q_proj.weight': [H * D, d],
            f'{p}.self_attn.k_proj.weight': [Hkv * D, d],
            f'{p}.self_attn.v_proj.weight': [Hkv * D, d],
            f'{p}.self_attn.o_proj.weight': [d, H * D],
            f'{p}.post_attention_layernorm.weight': [d],
            f'{p}.mlp.gate_proj.weight': [I, d],
            f'{p}.mlp.up_proj.weight': [I, d],
            f'{p}.mlp.down_proj.weight': [d, I],
        })
    shapes['model.norm.weight'] = [d]
    weights = {}
    for name, shape in shapes.items():
        if name.endswith('norm.weight'):
            weights[name] = f32(1 + 0.2 * torch.randn(shape, dtype=torch.float64))
        else:
            weights[name] = f32(torch.randn(shape, dtype=torch.float64) / math.sqrt(shape[1]) * (2.0 if 'embed' in name else 1.0))

    B, T = len(KEY_MASK), len(KEY_MASK[0])
    key_mask = torch.tensor(KEY_MASK, dtype=torch.float64)
    positions = torch.clamp(torch.cumsum(key_mask, dim=1) - 1, min=0).to(torch.int64)
    # Padding slots hold random tokens too: a leak through the mask would show.
    ids = torch.randint(3, V, (B, T), dtype=torch.int64)
    embeds_in = f32(torch.randn(B, T, d, dtype=torch.float64))

    golden = {'key_mask': key_mask, 'positions': positions, 'input_ids': ids}
    cases = {}

    def run(case, embeds, trainable, loras=None):
        params = {n: t.clone().requires_grad_(True) for n, t in trainable.items()}
        w = {n: params.get(n, t) for n, t in weights.items()}
        lora_w = None
        if loras is not None:
            lora_w = {path: (params[f'base_model.model.{path}.lora_A.weight'], params[f'base_model.model.{path}.lora_B.weight'], scale) for path, scale in loras.items()}
        x = embeds(w, params)
        hidden, logits = forward(c, w, x, positions, key_mask, lora_w)
        logprobs, valid, loss = next_token_loss(logits, ids, key_mask)
        loss.backward()
        golden[f'{case}.logprobs'] = logprobs.detach()
        golden[f'{case}.hidden'] = hidden.detach()
        golden[f'{case}.loss'] = loss.detach().reshape(1)
        for n, t in params.items():
            golden[f'{case}.grad.{n}'] = t.grad
        golden['target_mask'] = valid
        cases[case] = {
            'loss': loss.item(),
            'gradients': sorted(params),
        }
        print(f'{case}: loss {loss.item():.6f}, {len(params)} gradients, max |grad| {max(t.grad.abs().max().item() for t in params.values()):.3g}')

    run('ids', lambda w, p: w['model.embed_tokens.weight'][ids], weights)
    golden['embeds.inputs_embeds'] = embeds_in
    run('embeds', lambda w, p: p['inputs_embeds'], {**weights, 'inputs_embeds': embeds_in})

    scale = LORA['alpha'] / LORA['r']
    lora_tensors, loras = {}, {}
    for i in range(c['num_hidden_layers']):
        for module, out in (('q_proj', H * D), ('v_proj', Hkv * D)):
            path = f'model.layers.{i}.self_attn.{module}'
            lora_tensors[f'base_model.model.{path}.lora_A.weight'] = f32(torch.randn(LORA['r'], d, dtype=torch.float64) / math.sqrt(d))
            lora_tensors[f'base_model.model.{path}.lora_B.weight'] = f32(0.5 * torch.randn(out, LORA['r'], dtype=torch.float64) / math.sqrt(LORA['r']))
            loras[path] = scale
    for n, t in lora_tensors.items():
        golden[f'lora.{n}'] = t
    run('lora', lambda w, p: w['model.embed_tokens.weight'][ids], lora_tensors, loras)

    # The reference itself: tokens in padding slots must not reach any real position.
    other = torch.where(key_mask.bool(), ids, (ids + 7) % V)
    with torch.no_grad():
        real = key_mask.bool()
        a, _ = forward(c, weights, weights['model.embed_tokens.weight'][ids], positions, key_mask)
        b, _ = forward(c, weights, weights['model.embed_tokens.weight'][other], positions, key_mask)
        assert torch.equal(a[real], b[real]), 'padding leaks into real positions'

    inv_freq, wavelen = rope_inv_freq(c)
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, 'config.json'), 'w') as f:
        json.dump(c, f, indent=2)
        f.write('\n')
    write_safetensors(os.path.join(OUT_DIR, 'model.safetensors'), weights, {'format': 'pt'})
    write_safetensors(os.path.join(OUT_DIR, 'golden.safetensors'), golden)
    meta = {
        'generator': 'scripts/golden_llama.py',
        'torch': torch.__version__,
        'seed': SEED,
        'batch': B,
        'seq_len': T,
        'lora': LORA,
        'rope_inv_freq': inv_freq.tolist(),
        'rope_wavelengths': wavelen.tolist(),
        'cases': cases,
        'tensors': {n: list(t.shape) for n, t in golden.items()},
        'notes': [
            'computed in float64 from the float32 values saved here; results rounded to float32',
            'key_mask: 1 real, 0 padding; positions = max(cumsum(key_mask) - 1, 0)',
            'logprobs[b, t] = log p(input_ids[b, t+1] | prefix) where target_mask[b, t] (both t and t+1 real), else 0',
            'loss = mean of -logprobs over target_mask; grad.<name> = d loss / d <name>',
            'hidden = final normed hidden states; only rows where key_mask is 1 are meaningful to compare',
            'lora: y = x W^T + (alpha / r) (x A^T) B^T on the target modules, base weights frozen',
        ],
    }
    with open(os.path.join(OUT_DIR, 'golden.json'), 'w') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')
    total = sum(os.path.getsize(os.path.join(OUT_DIR, n)) for n in os.listdir(OUT_DIR))
    print(f'wrote {OUT_DIR} ({total} bytes)')


if __name__ == '__main__':
    torch.set_default_dtype(torch.float64)
    sys.exit(main())
