"""Critic throughput (pairs/second) against two baselines measured in the same process.

(a) a bare batched forward pass over exactly the token batches the critic builds (pre-tokenised,
    pre-padded, already on the device, only the last position's logits kept): the floor of what
    any batched judge can cost; target ratio >= 0.9.
(b) the naive judge: one unbatched forward per pair and per order; target ratio >= 10.

Runs on the tiny model (built into a temporary folder) unless ``--model`` names a checkpoint; uses
CUDA when available. ``python benchmarks/critic_speed.py [--pairs 192] [--model PATH]``
"""

from __future__ import annotations

import argparse
import time

from bench_model import add_model_options, load_model, sync


def best_times(fns: dict, device, repeats: int) -> dict:
    """Fastest of ``repeats`` runs of each function after one warm-up, the functions taking turns
    within each repeat so that load from other processes on a shared machine hits them alike."""
    for fn in fns.values():
        fn()
    sync(device)
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync(device)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def workload(n_pairs: int):
    """Pairs of real answers from the tiny corpus, of varied lengths."""
    from stage1kit.protocols import PairQuery
    from stage1kit.testing import tiny_corpus

    lines = tiny_corpus()
    questions, answers = lines[0::2], lines[1::2]
    queries = []
    for i in range(n_pairs):
        q = questions[i % len(questions)]
        a = answers[i % len(answers)]
        b = answers[(i * 7 + 3) % len(answers)]
        queries.append(PairQuery(q, a, b))
    return queries


def bare_batches(loaded, critic, queries, share_prefix: bool):
    """The critic's own forward inputs: its rows, its batches, its padding, on the device once.

    With ``share_prefix`` the rows lose the header every prompt shares (and the batches get that
    header's key/value cache), exactly as :func:`stage1kit.logprobs.score_rows` runs them.
    """
    import torch

    from stage1kit.logprobs import _prefix_cache, _shared_prefix_length, encode_prompts, option_tokens, plan_batches

    texts = [t for q in queries for t in (critic.pair_prompt(q.instruction, q.response_a, q.response_b), critic.pair_prompt(q.instruction, q.response_b, q.response_a))]
    shared_ids = list(option_tokens(loaded.tokenizer, list(critic.settings.labels), context=texts[0].rsplit("\n", 1)[-1]).shared)
    rows = [p + shared_ids for p in encode_prompts(loaded.tokenizer, texts)]
    shared = _shared_prefix_length(rows, [[[0]] * (len(shared_ids) + 1)] * len(rows)) if share_prefix else 0
    prefix = None
    if shared >= critic.scoring.min_shared_prefix:
        with torch.inference_mode():
            prefix = _prefix_cache(loaded.model, rows[0][:shared], loaded.device, True)
    shared = shared if prefix is not None else 0
    rows = [r[shared:] for r in rows]
    pad = loaded.tokenizer.pad_token_id
    batches = []
    for batch in plan_batches([len(r) for r in rows], critic.scoring):
        width = max(len(rows[i]) for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for b, i in enumerate(batch):
            ids[b, width - len(rows[i]) :] = torch.tensor(rows[i])
            mask[b, width - len(rows[i]) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0) + shared
        mask = torch.cat([torch.ones((len(batch), shared), dtype=torch.long), mask], dim=1)
        batches.append((ids.to(loaded.device), mask.to(loaded.device), positions.to(loaded.device)))
    return prefix, batches


def run_bare(loaded, prefix, batches) -> None:
    """Forward passes only: no tokenising, no padding, no log-softmax, one logit position kept."""
    import torch

    from stage1kit.logprobs import _expanded_cache, _prefix_cache

    with torch.inference_mode():
        if prefix is not None:  # the critic computes the header's cache on every call; so does this
            _prefix_cache(loaded.model, [0] * prefix.length, loaded.device, True)
        for ids, mask, positions in batches:
            extra = {"cache": _expanded_cache(prefix, ids.shape[0]), "use_cache": True} if prefix is not None else {"use_cache": False}
            loaded.model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1, **extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(parser)
    parser.add_argument("--pairs", type=int, default=192)
    parser.add_argument("--naive-pairs", type=int, default=32, help="pairs timed for the slow naive baseline")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch

    from stage1kit.plugins import get_registry

    loaded, model_path = load_model(args)
    critic = get_registry().create("critics", "logprob", batch_size=args.batch_size)
    queries = workload(args.pairs)
    same_work = bare_batches(loaded, critic, queries, share_prefix=True)
    full_rows = bare_batches(loaded, critic, queries, share_prefix=False)

    def run_critic():
        critic.compare(loaded, queries)

    naive_queries = queries[: args.naive_pairs]
    from stage1kit.logprobs import option_tokens

    cue = critic.pair_prompt("x", "y", "z").rsplit("\n", 1)[-1]
    labels = option_tokens(loaded.tokenizer, list(critic.settings.labels), context=cue)
    shared_label = list(labels.shared)  # " A"/" B" may share a leading-space token
    choices = [rest[0] for rest in labels.rest]

    def run_naive():
        """What a hand-written judge does: one unbatched forward per pair and per order."""
        with torch.inference_mode():
            for q in naive_queries:
                for first, second in ((q.response_a, q.response_b), (q.response_b, q.response_a)):
                    text = critic.pair_prompt(q.instruction, first, second)
                    ids = torch.tensor([loaded.tokenizer(text)["input_ids"] + shared_label], device=loaded.device)
                    logp = torch.log_softmax(loaded.model(input_ids=ids).logits[0, -1].float(), -1)
                    [logp[c].item() for c in choices]

    dev = loaded.device
    times = best_times(
        {"critic": run_critic, "bare": lambda: run_bare(loaded, *same_work), "full": lambda: run_bare(loaded, *full_rows)},
        dev,
        args.repeats,
    )
    t_critic, t_bare, t_full = times["critic"], times["bare"], times["full"]
    t_naive = best_times({"naive": run_naive}, dev, 1)["naive"]
    critic_rate = len(queries) / t_critic
    bare_rate = len(queries) / t_bare
    full_rate = len(queries) / t_full
    naive_rate = len(naive_queries) / t_naive
    print(f"device: {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else f'{torch.get_num_threads()} CPU threads'})")
    shared = same_work[0].length if same_work[0] is not None else 0
    print(f"model: {model_path}   pairs: {len(queries)} (x2 orders)   batches: {len(same_work[1])}   shared header: {shared} tokens")
    print(f"critic.compare                          {critic_rate:10.1f} pairs/s")
    print(f"bare forward, the critic's own batches  {bare_rate:10.1f} pairs/s")
    print(f"bare forward, full rows (no sharing)    {full_rate:10.1f} pairs/s")
    print(f"naive: one forward per pair and order   {naive_rate:10.1f} pairs/s  (over {len(naive_queries)} pairs)")
    print(f"ratio critic / bare forward (same batches) = {critic_rate / bare_rate:.2f}x  (target >= 0.9)")
    print(f"ratio critic / bare forward (full rows)    = {critic_rate / full_rate:.2f}x")
    print(f"ratio critic / naive loop                  = {critic_rate / naive_rate:.1f}x  (target >= 10)")


if __name__ == "__main__":
    main()
