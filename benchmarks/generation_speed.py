"""Best-of-N generation throughput (tokens/second) against bare ``model.generate``, same process.

The baseline samples the same prompts with the same shapes: the same batches of instructions, the
same k (``num_return_sequences``), ``max_new_tokens``, temperature and top-p, left padding, seed.
It skips what the generator adds: prompt building, length bucketing, stop strings, decoding,
flags and record writing. Tokens are counted the same way for both (up to and including EOS).
Target ratio >= 0.9.

Runs on the tiny model (built into a temporary folder) unless ``--model`` names a checkpoint; uses
CUDA when available. ``python benchmarks/generation_speed.py [--instructions 32] [-k 4]``
"""

from __future__ import annotations

import argparse
import time

from bench_model import add_model_options, load_model, sync


class CountingSink:
    def __init__(self) -> None:
        self.records = 0

    def write(self, record: dict) -> None:
        self.records += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_options(parser)
    parser.add_argument("--instructions", type=int, default=32)
    parser.add_argument("-k", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8, help="instructions per generate call")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from stage1kit import encode_data, special_ids
    from stage1kit.plugins import get_registry
    from stage1kit.sampling import first_end, generation_kwargs, left_padded

    loaded, model_path = load_model(args, pretrain_steps=0)
    generator = get_registry().create(
        "response_generators", "best-of-n", batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, temperature=0.8, top_p=0.95
    )
    from stage1kit_hf.self_instruct import load_seed_tasks

    tasks = load_seed_tasks(None)
    instructions = [{"id": f"ins_{i}", "instruction": tasks[i % len(tasks)], "round": 1} for i in range(args.instructions)]
    prompts = [generator.prompt(r["instruction"]) for r in instructions]
    encoded = encode_data(loaded.tokenizer, prompts, bos=True)  # exactly as the generator encodes them
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))  # the same batches the generator forms
    batches = [left_padded(loaded, [encoded[i] for i in order[s : s + args.batch_size]]) for s in range(0, len(order), args.batch_size)]
    tokenizer = loaded.tokenizer

    def run_generator() -> int:
        stats = generator.generate(loaded, instructions, CountingSink(), k=args.k, seed=0)
        return sum(chunk["tokens"] for chunk in stats.per_round)

    def run_bare() -> int:
        """``model.generate`` with the generator's own keyword arguments; tokens counted up to and
        including the first stop or special token, as the generator counts them."""
        torch.manual_seed(0)
        kwargs = generation_kwargs(loaded, generator._sampling(), args.k)
        stops, special = set(kwargs["eos_token_id"]), special_ids(tokenizer)
        tokens = 0
        with torch.inference_mode():
            for ids, mask in batches:
                new = loaded.model.generate(input_ids=ids, attention_mask=mask, **kwargs)[:, ids.shape[1] :].cpu()
                tokens += sum(end + 1 if end is not None else new.shape[1] for end in first_end(new, stops, special))
        return tokens

    def rates(fns: dict) -> dict:
        """Best tokens/s of each function; they take turns so background load hits them alike."""
        for fn in fns.values():
            fn()  # warm-up
        best = {name: 0.0 for name in fns}
        for _ in range(args.repeats):
            for name, fn in fns.items():
                sync(loaded.device)
                start = time.perf_counter()
                tokens = fn()
                sync(loaded.device)
                best[name] = max(best[name], tokens / (time.perf_counter() - start))
        return best

    measured = rates({"ours": run_generator, "bare": run_bare})
    ours, bare = measured["ours"], measured["bare"]
    dev = loaded.device
    print(f"device: {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else f'{torch.get_num_threads()} CPU threads'})")
    print(f"model: {model_path}   instructions: {len(instructions)}   k: {args.k}   max_new_tokens: {args.max_new_tokens}")
    print(f"best-of-n generator   {ours:10.1f} tokens/s")
    print(f"bare model.generate   {bare:10.1f} tokens/s")
    print(f"ratio best-of-n / bare generate = {ours / bare:.2f}x  (target >= 0.9)")


if __name__ == "__main__":
    main()
